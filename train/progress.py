"""The trainers' progress bar on stderr (stdout carries their JSON summary)."""
import sys
import time


def progress(name, epoch, epochs, done, total, loss, t0):
    width = 30
    filled = int(width * done / max(1, total))
    sys.stderr.write(f"\r{name} epoch {epoch + 1}/{epochs} [{'#' * filled}{'.' * (width - filled)}] {done}/{total} loss {loss:.4f} {time.time() - t0:.0f} s")
    sys.stderr.flush()
