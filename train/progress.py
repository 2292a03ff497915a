"""The trainers' mini-batch epochs and progress bar on stderr (stdout carries their JSON summary)."""
import sys
import time


def progress(name, epoch, epochs, done, total, loss, t0):
    width = 30
    filled = int(width * done / max(1, total))
    sys.stderr.write(f"\r{name} epoch {epoch + 1}/{epochs} [{'#' * filled}{'.' * (width - filled)}] {done}/{total} loss {loss:.4f} {time.time() - t0:.0f} s")
    sys.stderr.flush()


def epochs(name, count, n, batch, order, step):
    """`count` epochs over n examples in batches: order() gives each epoch's
    example order, step(idx) trains on a batch and returns its loss; the mean
    loss of each epoch, in order."""
    t0 = time.time()
    history = []
    for epoch in range(count):
        perm = order()
        total = 0.0
        for start in range(0, n, batch):
            idx = perm[start:start + batch]
            loss = step(idx)
            total += loss * len(idx)
            if (start // batch) % 20 == 0:
                progress(name, epoch, count, min(n, start + batch), n, loss, t0)
        history.append(total / max(1, n))
        progress(name, epoch, count, n, n, total / n, t0)
        sys.stderr.write("\n")
    return history
