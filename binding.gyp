{
  "targets": [
    {
      "target_name": "ranking_native",
      "sources": [
        "native/addon.cc",
        "native/faiss_index.cc",
        "native/ivf_simd.cc",
        "native/dcn.cc",
        "native/hap.cc",
        "native/diversity.cc",
        "native/features.cc",
        "native/memory.cc",
        "native/simd.cc",
        "native/gemm.cc",
        "native/dnnl_matmul.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      # NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS: when a worker thread is
      # terminated while it runs the addon, an error that can no longer be
      # thrown into its JavaScript is dropped instead of aborting the process.
      "defines": [
        "NAPI_VERSION=8",
        "NODE_ADDON_API_DISABLE_DEPRECATED",
        "NODE_ADDON_API_CPP_EXCEPTIONS",
        "NODE_ADDON_API_CPP_EXCEPTIONS_ALL",
        "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"
      ],
      "cflags!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17"],
      "cflags_cc": [
        "-std=c++17", "-O3", "-fopenmp", "-fexceptions", "-frtti", "-Wall", "-Wno-unused-parameter",
        "<!@(pkg-config --exists dnnl 2>/dev/null && pkg-config --cflags dnnl || true)"
      ],
      "libraries": [
        "-lfaiss", "-lopenblas", "-llapack",
        "<!@(pkg-config --exists dnnl 2>/dev/null && pkg-config --libs dnnl || echo -ldnnl)",
        "-lgomp"
      ],
      "ldflags": ["-fopenmp"]
    }
  ]
}
