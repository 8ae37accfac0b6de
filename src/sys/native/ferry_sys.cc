// mount(2) and umount2(2) for Node: a bind mount is one system call here, where exec'ing mount(8) costs a
// fork, an exec and mount(8)'s own start (tens of ms on a loaded node).
#include <napi.h>
#include <sys/mount.h>
#include <errno.h>
#include <string.h>
#include <functional>
#include <string>

namespace {

// Runs one system call on the libuv thread pool (an unmount of a FUSE mount whose daemon hangs must not
// stall the event loop) and resolves with 0 or the errno; JS names the errno.
class Call : public Napi::AsyncWorker {
 public:
  Call(Napi::Env env, std::function<int()> fn) : Napi::AsyncWorker(env), fn_(std::move(fn)), deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise Promise() { return deferred_.Promise(); }
  void Execute() override { err_ = fn_() == 0 ? 0 : errno; }
  void OnOK() override { deferred_.Resolve(Napi::Number::New(Env(), err_)); }

 private:
  std::function<int()> fn_;
  Napi::Promise::Deferred deferred_;
  int err_ = 0;
};

Napi::Value Mount(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 4 || !info[0].IsString() || !info[1].IsString() || !info[2].IsString() || !info[3].IsNumber()) {
    Napi::TypeError::New(env, "mount(source, target, fstype, flags[, data])").ThrowAsJavaScriptException();
    return env.Null();
  }
  std::string src = info[0].As<Napi::String>();
  std::string dst = info[1].As<Napi::String>();
  std::string type = info[2].As<Napi::String>();
  unsigned long flags = static_cast<unsigned long>(info[3].As<Napi::Number>().Int64Value());
  std::string data = info.Length() > 4 && info[4].IsString() ? info[4].As<Napi::String>().Utf8Value() : "";
  auto* w = new Call(env, [=]() { return mount(src.c_str(), dst.c_str(), type.empty() ? nullptr : type.c_str(), flags, data.empty() ? nullptr : data.c_str()); });
  w->Queue();
  return w->Promise();
}

Napi::Value Umount2(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsNumber()) {
    Napi::TypeError::New(env, "umount2(target, flags)").ThrowAsJavaScriptException();
    return env.Null();
  }
  std::string dst = info[0].As<Napi::String>();
  int flags = info[1].As<Napi::Number>().Int32Value();
  auto* w = new Call(env, [=]() { return umount2(dst.c_str(), flags); });
  w->Queue();
  return w->Promise();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("mount", Napi::Function::New(env, Mount));
  exports.Set("umount2", Napi::Function::New(env, Umount2));
  Napi::Object f = Napi::Object::New(env);
  f.Set("MS_RDONLY", Napi::Number::New(env, MS_RDONLY));
  f.Set("MS_REMOUNT", Napi::Number::New(env, MS_REMOUNT));
  f.Set("MS_BIND", Napi::Number::New(env, MS_BIND));
  f.Set("MS_REC", Napi::Number::New(env, MS_REC));
  f.Set("MNT_DETACH", Napi::Number::New(env, MNT_DETACH));
  f.Set("MNT_FORCE", Napi::Number::New(env, MNT_FORCE));
  f.Set("UMOUNT_NOFOLLOW", Napi::Number::New(env, UMOUNT_NOFOLLOW));
  exports.Set("flags", f);
  return exports;
}

}  // namespace

NODE_API_MODULE(ferry_sys, Init)
