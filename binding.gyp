{
  "targets": [
    {
      "target_name": "rlo_native",
      "sources": ["native/rlo_native.c"],
      "cflags": ["-O3", "-fopenmp", "-std=c11"],
      "ldflags": ["-fopenmp"],
      "libraries": ["-ldnnl", "-lgomp", "-lm"]
    }
  ]
}
