{
  "targets": [
    {
      "target_name": "ferry_sys",
      "sources": ["ferry_sys.cc"],
      "include_dirs": ["<!@(node -p \"require('node-addon-api').include\")"],
      "cflags_cc": ["-std=c++17", "-O2"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED", "NAPI_DISABLE_CPP_EXCEPTIONS"]
    }
  ]
}
