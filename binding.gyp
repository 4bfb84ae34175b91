{
  "targets": [
    {
      "target_name": "rlo_native",
      "sources": ["native/rlo_native.c", "native/napi_args.c", "native/conv.c", "native/fir.c", "native/elementwise.c", "native/gemm.c", "native/blas_engines.c"],
      "cflags": ["-O3", "-fopenmp", "-std=gnu11", "-ffp-contract=fast", "-fno-trapping-math"],
      "ldflags": ["-fopenmp"],
      "libraries": ["-lgomp", "-lm", "-ldl"]
    }
  ]
}
