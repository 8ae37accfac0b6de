{
  "targets": [
    {
      "target_name": "ferry_fuse",
      "sources": ["ferry_fuse.cc"],
      "include_dirs": ["<!@(node -p \"require('node-addon-api').include\")", "<!@(pkg-config --cflags-only-I fuse3 | sed 's/-I//g')"],
      "libraries": ["<!@(pkg-config --libs fuse3)"],
      "cflags_cc": ["-std=c++17", "-O2", "-fexceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED", "NAPI_CPP_EXCEPTIONS"]
    }
  ]
}
