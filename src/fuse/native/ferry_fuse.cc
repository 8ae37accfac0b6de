// FerryFS's FUSE binding: libfuse3's low-level (inode) API for Node through node-addon-api.
//
// The mount's /dev/fuse descriptor is watched by the Node event loop itself (a non-blocking uv_poll): when it
// is readable, the JS thread reads every queued request and calls the JS dispatcher directly. No thread sits
// between the kernel and JS, so a request costs no extra thread wake-up (on a busy machine each wake-up waits
// for a time slice: that was most of a small request's latency). JS answers later, in any order, through the
// exported reply* functions wrapping fuse_reply_*.
// A request travels as an External wrapping a heap Req (never as a JS number). Each Req is answered exactly
// once: the reply functions refuse a second reply, and a Req that JS drops without answering is answered
// with EIO by its finalizer, so the kernel never waits forever. INIT, DESTROY, FORGET and FSYNCDIR are
// answered here without a JS round trip. The session is destroyed only when JS calls destroy() after the
// session ended (unmounted or aborted) and every request is answered.
// A session is created apart from its connection: JS either mounts it at a directory (libfuse runs
// fusermount3) or starts it on a /dev/fuse descriptor it was given, already mounted by someone else (the
// process that handed over a live mount, or a mount helper).
// Opcodes, the order of each request's arguments and the Float64Array layouts come from src/fuse/abi.json
// through the generated abi.gen.h; src/fuse/abi.gen.ts is generated from the same file.
#define FUSE_USE_VERSION 34
#include <fuse_lowlevel.h>
#include <napi.h>

#include <uv.h>

#include "abi.gen.h"

#include <atomic>
#include <cerrno>
#include <fcntl.h>
#include <memory>
#include <cstdlib>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <string>
#include <sys/stat.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <poll.h>
#include <unistd.h>
#include <linux/fuse.h>
#include <vector>

namespace {

using namespace ferry_abi;

struct Session;

// One request on its way to JS and back.
struct Req {
  fuse_req_t req = nullptr;
  std::atomic<bool> replied{false};
  // Set by libfuse's interrupt callback: the caller got a signal while a lock wait was in progress.
  std::atomic<bool> interrupted{false};
  Session* s = nullptr;
};

// Everything copied out of one request by its ll_* callback, turned into JS arguments for the dispatcher.
struct Msg {
  int op = 0;
  Req* r = nullptr;
  uint32_t uid = 0, gid = 0, pid = 0;
  // The caller's umask when the kernel leaves it to us (FUSE_CAP_DONT_MASK), else -1: it applied it.
  int32_t umask = -1;
  std::vector<gid_t> groups;
  double ino = 0, ino2 = 0;
  std::string name, name2;
  double fh = -1, fh2 = -1;
  double off = 0, off2 = 0, size = 0;
  double a = 0, b = 0, c = 0, d = 0;
  uint64_t owner = 0;
  char* data = nullptr;
  size_t datalen = 0;
  double setv[8] = {0};
};

struct Session {
  fuse_session* se = nullptr;
  napi_env env = nullptr;
  Napi::FunctionReference dispatch;
  // Calls into JS from the poll callback run in this async context; closing its scope runs the microtasks.
  std::unique_ptr<Napi::AsyncContext> actx;
  uv_poll_t* poll = nullptr;
  // libfuse's receive buffer (allocated by the first read, reused for every request).
  fuse_buf buf{};
  bool writeback = false;
  // POSIX ACLs: the kernel enforces them (FUSE_CAP_POSIX_ACL) and passes the umask for us to apply only
  // when the parent has no default ACL (FUSE_CAP_DONT_MASK).
  bool acl = false;
  bool dontMask = false;
  uint32_t maxWrite = 1 << 20;
  std::atomic<int64_t> pending{0};
  std::atomic<bool> ended{false};
  bool connected = false;
  bool destroyed = false;
  bool released = false;
  // The kernel's INIT request as it was read (replayed by a process taking the connection over, so libfuse
  // negotiates the same parameters without a new INIT from the kernel) and what ll_init answered.
  std::vector<char> initMsg;
  fuse_conn_info negotiated{};
  bool gotInit = false;
  // Taking over: ll_init answers what the previous process answered (rec), not what this build would want.
  bool restoring = false;
  fuse_conn_info rec{};
  // Handed over to another process: destroy() closes this process's descriptor but never unmounts.
  bool handedOver = false;
};

Session* S(fuse_req_t req) { return static_cast<Session*>(fuse_req_userdata(req)); }

// Runs on the JS thread: turns a Msg into a call of the JS dispatcher.
void CallJs(Napi::Env env, Napi::Function fn, Msg* m) {
  Napi::HandleScope scope(env);
  std::vector<napi_value> args;
  args.push_back(Napi::Number::New(env, m->op));
  if (m->r) {
    args.push_back(Napi::External<Req>::New(env, m->r, [](Napi::Env, Req* r) {
      if (!r->replied.exchange(true)) {
        fuse_reply_err(r->req, EIO);
        r->s->pending--;
      }
      delete r;
    }));
  } else {
    args.push_back(env.Null());
  }
  Napi::Array groups = Napi::Array::New(env, m->groups.size());
  for (size_t i = 0; i < m->groups.size(); i++) groups.Set(i, Napi::Number::New(env, m->groups[i]));
  Napi::Object ctx = Napi::Object::New(env);
  ctx.Set("uid", m->uid);
  ctx.Set("gid", m->gid);
  ctx.Set("pid", m->pid);
  ctx.Set("gids", groups);
  if (m->umask >= 0) ctx.Set("umask", m->umask);
  args.push_back(ctx);
  // The request's own arguments, in the order abi.json gives (PushArgs is generated from it).
  struct Push {
    Napi::Env env;
    std::vector<napi_value>& args;
    void num(double v) { args.push_back(Napi::Number::New(env, v)); }
    void flag(double v) { args.push_back(Napi::Boolean::New(env, v != 0)); }
    void str(const std::string& v) { args.push_back(Napi::String::New(env, v)); }
    void big(uint64_t v) { args.push_back(Napi::BigInt::New(env, v)); }
    // The data JS owns from now on (freed with the Buffer).
    void buf(Msg& msg) {
      if (msg.data) {
        args.push_back(Napi::Buffer<char>::New(env, msg.data, msg.datalen, [](Napi::Env, char* p) { free(p); }));
        msg.data = nullptr;
      } else {
        args.push_back(Napi::Buffer<char>::New(env, 0));
      }
    }
  } push{env, args};
  PushArgs(*m, push);
  delete m;
  try {
    fn.Call(args);
  } catch (const Napi::Error& e) {
    // The dispatcher never throws by design; if it does, it is the process's uncaught exception.
    napi_fatal_exception(env, e.Value());
  }
}

// JS thread, inside the poll callback: hand a request to the JS dispatcher.
void Post(fuse_req_t req, Msg* m) {
  Session* s = S(req);
  m->r = new Req();
  m->r->req = req;
  m->r->s = s;
  const fuse_ctx* c = fuse_req_ctx(req);
  m->uid = c->uid;
  m->gid = c->gid;
  m->pid = c->pid;
  // libfuse fills umask for mknod, mkdir and create only; those are the requests that use it.
  if (s->dontMask && (m->op == OP_MKNOD || m->op == OP_MKDIR || m->op == OP_CREATE)) m->umask = static_cast<int32_t>(c->umask);
  if (c->uid != 0) {
    gid_t list[64];
    int n = fuse_req_getgroups(req, 64, list);
    if (n > 0) m->groups.assign(list, list + (n > 64 ? 64 : n));
  }
  if (m->op == OP_SETLK || m->op == OP_FLOCK) {
    // Lock waits are the requests that can block for long: let a signal end them (JS polls the flag).
    fuse_req_interrupt_func(req, [](fuse_req_t, void* data) { static_cast<Req*>(data)->interrupted = true; }, m->r);
  }
  s->pending++;
  CallJs(Napi::Env(s->env), s->dispatch.Value(), m);
}

Msg* M(int op, fuse_ino_t ino) {
  Msg* m = new Msg();
  m->op = op;
  m->ino = static_cast<double>(ino);
  return m;
}

double FH(fuse_file_info* fi) { return fi ? static_cast<double>(fi->fh) : -1; }

void ll_init(void* userdata, fuse_conn_info* conn) {
  Session* s = static_cast<Session*>(userdata);
  auto want = [&](unsigned cap) {
    if (conn->capable & cap) conn->want |= cap;
  };
  want(FUSE_CAP_ASYNC_READ);
  want(FUSE_CAP_ATOMIC_O_TRUNC);
  want(FUSE_CAP_POSIX_LOCKS);
  want(FUSE_CAP_FLOCK_LOCKS);
  want(FUSE_CAP_READDIRPLUS);
  want(FUSE_CAP_READDIRPLUS_AUTO);
  want(FUSE_CAP_PARALLEL_DIROPS);
  want(FUSE_CAP_AUTO_INVAL_DATA);
  // setuid/setgid are cleared by the metadata in the transaction of the write, truncate, O_TRUNC open or
  // chown, as the writer's identity says. libfuse 3.14 (Debian 12/13) does not pass this flag on to the
  // kernel, which then asks for it with a chmod as the writer: server.ts's setIdKill takes that request.
  want(FUSE_CAP_HANDLE_KILLPRIV);
  if (s->writeback) want(FUSE_CAP_WRITEBACK_CACHE);
  else conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
  conn->want &= ~(FUSE_CAP_SPLICE_READ | FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE);
  if (s->acl) {
    want(FUSE_CAP_POSIX_ACL);
    want(FUSE_CAP_DONT_MASK);
    s->dontMask = (conn->want & FUSE_CAP_DONT_MASK) != 0;
  }
  if (conn->max_write > s->maxWrite) conn->max_write = s->maxWrite;
  // max_readahead stays the kernel's maximum; the bdi's read_ahead_kb is raised from JS after mounting.
  conn->max_background = 64;
  conn->congestion_threshold = 48;
  if (s->restoring) {
    // The kernel holds the previous process's answer: keep it exactly (a newer build may want other caps).
    conn->want = s->rec.want & conn->capable;
    conn->max_write = s->rec.max_write;
    conn->max_read = s->rec.max_read;
    conn->max_readahead = s->rec.max_readahead;
    conn->max_background = s->rec.max_background;
    conn->congestion_threshold = s->rec.congestion_threshold;
    conn->time_gran = s->rec.time_gran;
    s->dontMask = (conn->want & FUSE_CAP_DONT_MASK) != 0;
    s->writeback = (conn->want & FUSE_CAP_WRITEBACK_CACHE) != 0;
  }
  s->negotiated = *conn;
  s->gotInit = true;
}

void ll_destroy(void*) {}

void ll_lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  Msg* m = M(OP_LOOKUP, parent);
  m->name = name;
  Post(req, m);
}

void ll_forget(fuse_req_t req, fuse_ino_t, uint64_t) { fuse_reply_none(req); }
void ll_forget_multi(fuse_req_t req, size_t, fuse_forget_data*) { fuse_reply_none(req); }

void ll_getattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  Msg* m = M(OP_GETATTR, ino);
  m->fh = FH(fi);
  Post(req, m);
}

void ll_setattr(fuse_req_t req, fuse_ino_t ino, struct stat* st, int to_set, fuse_file_info* fi) {
  Msg* m = M(OP_SETATTR, ino);
  m->a = to_set;
  m->setv[0] = st->st_mode & 07777;
  m->setv[1] = st->st_uid;
  m->setv[2] = st->st_gid;
  m->setv[3] = static_cast<double>(st->st_size);
  m->setv[4] = static_cast<double>(st->st_atim.tv_sec);
  m->setv[5] = static_cast<double>(st->st_atim.tv_nsec);
  m->setv[6] = static_cast<double>(st->st_mtim.tv_sec);
  m->setv[7] = static_cast<double>(st->st_mtim.tv_nsec);
  m->fh = FH(fi);
  Post(req, m);
}

void ll_readlink(fuse_req_t req, fuse_ino_t ino) { Post(req, M(OP_READLINK, ino)); }

void ll_mknod(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, dev_t rdev) {
  Msg* m = M(OP_MKNOD, parent);
  m->name = name;
  m->a = mode;
  m->b = static_cast<double>(rdev);
  Post(req, m);
}

void ll_mkdir(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode) {
  Msg* m = M(OP_MKDIR, parent);
  m->name = name;
  m->a = mode;
  Post(req, m);
}

void ll_unlink(fuse_req_t req, fuse_ino_t parent, const char* name) {
  Msg* m = M(OP_UNLINK, parent);
  m->name = name;
  Post(req, m);
}

void ll_rmdir(fuse_req_t req, fuse_ino_t parent, const char* name) {
  Msg* m = M(OP_RMDIR, parent);
  m->name = name;
  Post(req, m);
}

void ll_symlink(fuse_req_t req, const char* link, fuse_ino_t parent, const char* name) {
  Msg* m = M(OP_SYMLINK, parent);
  m->name = name;
  m->name2 = link;
  Post(req, m);
}

void ll_rename(fuse_req_t req, fuse_ino_t parent, const char* name, fuse_ino_t newparent, const char* newname,
               unsigned int flags) {
  Msg* m = M(OP_RENAME, parent);
  m->name = name;
  m->ino2 = static_cast<double>(newparent);
  m->name2 = newname;
  m->a = flags;
  Post(req, m);
}

void ll_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char* newname) {
  Msg* m = M(OP_LINK, ino);
  m->ino2 = static_cast<double>(newparent);
  m->name = newname;
  Post(req, m);
}

void ll_open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  Msg* m = M(OP_OPEN, ino);
  m->a = fi->flags;
  Post(req, m);
}

void ll_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) {
  Msg* m = M(OP_READ, ino);
  m->fh = FH(fi);
  m->size = static_cast<double>(size);
  m->off = static_cast<double>(off);
  Post(req, m);
}

void ll_write(fuse_req_t req, fuse_ino_t ino, const char* buf, size_t size, off_t off, fuse_file_info* fi) {
  Msg* m = M(OP_WRITE, ino);
  m->fh = FH(fi);
  // libfuse reuses its buffer once this returns: JS gets a copy it owns.
  m->data = static_cast<char*>(malloc(size ? size : 1));
  if (!m->data) {
    delete m;
    fuse_reply_err(req, ENOMEM);
    return;
  }
  memcpy(m->data, buf, size);
  m->datalen = size;
  m->off = static_cast<double>(off);
  Post(req, m);
}

void ll_flush(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  Msg* m = M(OP_FLUSH, ino);
  m->fh = FH(fi);
  m->owner = fi->lock_owner;
  Post(req, m);
}

void ll_release(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  Msg* m = M(OP_RELEASE, ino);
  m->fh = FH(fi);
  m->a = fi->flags;
  m->owner = fi->lock_owner;
  m->b = fi->flock_release ? 1 : 0;
  Post(req, m);
}

void ll_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, fuse_file_info* fi) {
  Msg* m = M(OP_FSYNC, ino);
  m->fh = FH(fi);
  m->a = datasync;
  Post(req, m);
}

void ll_opendir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  Msg* m = M(OP_OPENDIR, ino);
  m->a = fi->flags;
  Post(req, m);
}

void ll_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) {
  Msg* m = M(OP_READDIR, ino);
  m->fh = FH(fi);
  m->size = static_cast<double>(size);
  m->off = static_cast<double>(off);
  Post(req, m);
}

void ll_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) {
  Msg* m = M(OP_READDIRPLUS, ino);
  m->fh = FH(fi);
  m->size = static_cast<double>(size);
  m->off = static_cast<double>(off);
  Post(req, m);
}

void ll_releasedir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  Msg* m = M(OP_RELEASEDIR, ino);
  m->fh = FH(fi);
  Post(req, m);
}

void ll_fsyncdir(fuse_req_t req, fuse_ino_t, int, fuse_file_info*) { fuse_reply_err(req, 0); }

void ll_statfs(fuse_req_t req, fuse_ino_t ino) { Post(req, M(OP_STATFS, ino)); }

void ll_setxattr(fuse_req_t req, fuse_ino_t ino, const char* name, const char* value, size_t size, int flags) {
  Msg* m = M(OP_SETXATTR, ino);
  m->name = name;
  m->data = static_cast<char*>(malloc(size ? size : 1));
  if (!m->data) {
    delete m;
    fuse_reply_err(req, ENOMEM);
    return;
  }
  memcpy(m->data, value, size);
  m->datalen = size;
  m->a = flags;
  Post(req, m);
}

void ll_getxattr(fuse_req_t req, fuse_ino_t ino, const char* name, size_t size) {
  Msg* m = M(OP_GETXATTR, ino);
  m->name = name;
  m->size = static_cast<double>(size);
  Post(req, m);
}

void ll_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size) {
  Msg* m = M(OP_LISTXATTR, ino);
  m->size = static_cast<double>(size);
  Post(req, m);
}

void ll_removexattr(fuse_req_t req, fuse_ino_t ino, const char* name) {
  Msg* m = M(OP_REMOVEXATTR, ino);
  m->name = name;
  Post(req, m);
}

void ll_access(fuse_req_t req, fuse_ino_t ino, int mask) {
  Msg* m = M(OP_ACCESS, ino);
  m->a = mask;
  Post(req, m);
}

void ll_create(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, fuse_file_info* fi) {
  Msg* m = M(OP_CREATE, parent);
  m->name = name;
  m->a = mode;
  m->b = fi->flags;
  Post(req, m);
}

void lockMsg(Msg* m, fuse_file_info* fi, struct flock* lock) {
  m->fh = FH(fi);
  m->owner = fi->lock_owner;
  m->a = lock->l_type;
  m->off = static_cast<double>(lock->l_start);
  m->size = static_cast<double>(lock->l_len);
  m->b = lock->l_pid;
}

void ll_getlk(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi, struct flock* lock) {
  Msg* m = M(OP_GETLK, ino);
  lockMsg(m, fi, lock);
  Post(req, m);
}

void ll_setlk(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi, struct flock* lock, int sleep) {
  Msg* m = M(OP_SETLK, ino);
  lockMsg(m, fi, lock);
  m->c = sleep;
  Post(req, m);
}

void ll_flock(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi, int op) {
  Msg* m = M(OP_FLOCK, ino);
  m->fh = FH(fi);
  m->owner = fi->lock_owner;
  m->a = op;
  Post(req, m);
}

void ll_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off, off_t len, fuse_file_info* fi) {
  Msg* m = M(OP_FALLOCATE, ino);
  m->fh = FH(fi);
  m->a = mode;
  m->off = static_cast<double>(off);
  m->size = static_cast<double>(len);
  Post(req, m);
}

void ll_copy_file_range(fuse_req_t req, fuse_ino_t ino_in, off_t off_in, fuse_file_info* fi_in, fuse_ino_t ino_out,
                        off_t off_out, fuse_file_info* fi_out, size_t len, int flags) {
  Msg* m = M(OP_COPY_FILE_RANGE, ino_in);
  m->fh = FH(fi_in);
  m->off = static_cast<double>(off_in);
  m->ino2 = static_cast<double>(ino_out);
  m->fh2 = FH(fi_out);
  m->off2 = static_cast<double>(off_out);
  m->size = static_cast<double>(len);
  m->a = flags;
  Post(req, m);
}

void ll_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence, fuse_file_info* fi) {
  Msg* m = M(OP_LSEEK, ino);
  m->fh = FH(fi);
  m->off = static_cast<double>(off);
  m->a = whence;
  Post(req, m);
}

const fuse_lowlevel_ops OPS = [] {
  fuse_lowlevel_ops o{};
  o.init = ll_init;
  o.destroy = ll_destroy;
  o.lookup = ll_lookup;
  o.forget = ll_forget;
  o.forget_multi = ll_forget_multi;
  o.getattr = ll_getattr;
  o.setattr = ll_setattr;
  o.readlink = ll_readlink;
  o.mknod = ll_mknod;
  o.mkdir = ll_mkdir;
  o.unlink = ll_unlink;
  o.rmdir = ll_rmdir;
  o.symlink = ll_symlink;
  o.rename = ll_rename;
  o.link = ll_link;
  o.open = ll_open;
  o.read = ll_read;
  o.write = ll_write;
  o.flush = ll_flush;
  o.release = ll_release;
  o.fsync = ll_fsync;
  o.opendir = ll_opendir;
  o.readdir = ll_readdir;
  o.readdirplus = ll_readdirplus;
  o.releasedir = ll_releasedir;
  o.fsyncdir = ll_fsyncdir;
  o.statfs = ll_statfs;
  o.setxattr = ll_setxattr;
  o.getxattr = ll_getxattr;
  o.listxattr = ll_listxattr;
  o.removexattr = ll_removexattr;
  o.access = ll_access;
  o.create = ll_create;
  o.getlk = ll_getlk;
  o.setlk = ll_setlk;
  o.flock = ll_flock;
  o.fallocate = ll_fallocate;
  o.copy_file_range = ll_copy_file_range;
  o.lseek = ll_lseek;
  return o;
}();

// ---- the event loop side ----

void StopPolling(Session* s) {
  if (!s->poll) return;
  uv_poll_stop(s->poll);
  uv_close(reinterpret_cast<uv_handle_t*>(s->poll), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
  s->poll = nullptr;
}

// The session ended (unmounted, or the connection aborted): stop watching and tell JS (OP_EXIT).
void EndSession(Session* s) {
  if (s->ended.exchange(true)) return;
  StopPolling(s);
  Msg* m = new Msg();
  m->op = OP_EXIT;
  CallJs(Napi::Env(s->env), s->dispatch.Value(), m);
}

// /dev/fuse is readable: read and dispatch what is queued (a bounded batch; the poll fires again for more).
void OnReadable(uv_poll_t* h, int status, int) {
  Session* s = static_cast<Session*>(h->data);
  Napi::Env env(s->env);
  Napi::HandleScope hs(env);
  // Microtasks queued by the dispatcher (the request handlers) run when this scope closes.
  Napi::CallbackScope cs(env, *s->actx);
  if (status < 0) return EndSession(s);
  for (int i = 0; i < 256; i++) {
    if (fuse_session_exited(s->se)) break;
    int res = fuse_session_receive_buf(s->se, &s->buf);
    if (res == -EINTR) continue;
    if (res == -EAGAIN) return;
    if (res <= 0) {
      fuse_session_exit(s->se);
      break;
    }
    // Kept for a handover: the kernel sends INIT once per connection.
    if (!s->gotInit && !(s->buf.flags & FUSE_BUF_IS_FD) && res >= static_cast<int>(sizeof(fuse_in_header)) &&
        static_cast<fuse_in_header*>(s->buf.mem)->opcode == FUSE_INIT) {
      s->initMsg.assign(static_cast<char*>(s->buf.mem), static_cast<char*>(s->buf.mem) + res);
    }
    fuse_session_process_buf(s->se, &s->buf);
  }
  if (fuse_session_exited(s->se)) EndSession(s);
}

// ---- JS side ----

Session* SessionOf(const Napi::Value& v) { return v.As<Napi::External<Session>>().Data(); }

// Takes the request for a reply; throws if it was already answered.
Req* Take(const Napi::CallbackInfo& info) {
  Req* r = info[0].As<Napi::External<Req>>().Data();
  if (r->replied.exchange(true)) {
    Napi::Error::New(info.Env(), "FUSE request already answered").ThrowAsJavaScriptException();
    return nullptr;
  }
  r->s->pending--;
  return r;
}

double D(const Napi::Value& v) { return v.As<Napi::Number>().DoubleValue(); }

// An attr layout (abi.json) at v into st.
void FillStatFrom(struct stat* st, const double* v) {
  st->st_ino = static_cast<ino_t>(v[ATTR_INO]);
  st->st_mode = static_cast<mode_t>(v[ATTR_MODE]);
  st->st_nlink = static_cast<nlink_t>(v[ATTR_NLINK]);
  st->st_uid = static_cast<uid_t>(v[ATTR_UID]);
  st->st_gid = static_cast<gid_t>(v[ATTR_GID]);
  st->st_rdev = static_cast<dev_t>(v[ATTR_RDEV]);
  st->st_size = static_cast<off_t>(v[ATTR_SIZE]);
  st->st_blocks = (st->st_size + 511) / 512;
  st->st_blksize = 4096;
  st->st_atim.tv_sec = static_cast<time_t>(v[ATTR_ATIME]);
  st->st_atim.tv_nsec = static_cast<long>(v[ATTR_ATIMENSEC]);
  st->st_mtim.tv_sec = static_cast<time_t>(v[ATTR_MTIME]);
  st->st_mtim.tv_nsec = static_cast<long>(v[ATTR_MTIMENSEC]);
  st->st_ctim.tv_sec = static_cast<time_t>(v[ATTR_CTIME]);
  st->st_ctim.tv_nsec = static_cast<long>(v[ATTR_CTIMENSEC]);
}

void FillStat(struct stat* st, const Napi::Value& v) {
  Napi::Float64Array a = v.As<Napi::Float64Array>();
  memset(st, 0, sizeof *st);
  if (a.ElementLength() < ATTR_LEN) {
    Napi::Error::New(v.Env(), "attributes: a Float64Array of the attr layout expected").ThrowAsJavaScriptException();
    return;
  }
  FillStatFrom(st, a.Data());
}

void FillEntry(fuse_entry_param* e, const Napi::CallbackInfo& info, size_t i) {
  memset(e, 0, sizeof *e);
  e->ino = static_cast<fuse_ino_t>(D(info[i]));
  e->generation = 1;
  if (e->ino) FillStat(&e->attr, info[i + 1]);
  e->attr_timeout = D(info[i + 2]);
  e->entry_timeout = D(info[i + 3]);
}

Napi::Value ReplyErr(const Napi::CallbackInfo& info) {
  Req* r = Take(info);
  if (r) fuse_reply_err(r->req, static_cast<int>(D(info[1])));
  return info.Env().Undefined();
}

Napi::Value ReplyNone(const Napi::CallbackInfo& info) {
  Req* r = Take(info);
  if (r) fuse_reply_none(r->req);
  return info.Env().Undefined();
}

// replyEntry(req, ino, attr, attrTimeout, entryTimeout); ino 0 is a cached negative entry.
Napi::Value ReplyEntry(const Napi::CallbackInfo& info) {
  Req* r = Take(info);
  if (!r) return info.Env().Undefined();
  fuse_entry_param e;
  FillEntry(&e, info, 1);
  fuse_reply_entry(r->req, &e);
  return info.Env().Undefined();
}

void FillOpen(fuse_file_info* fi, double fh, int bits) {
  memset(fi, 0, sizeof *fi);
  fi->fh = static_cast<uint64_t>(fh);
  fi->keep_cache = (bits & OPEN_KEEP_CACHE) ? 1 : 0;
}

// replyCreate(req, ino, attr, attrTimeout, entryTimeout, fh, bits)
Napi::Value ReplyCreate(const Napi::CallbackInfo& info) {
  Req* r = Take(info);
  if (!r) return info.Env().Undefined();
  fuse_entry_param e;
  FillEntry(&e, info, 1);
  fuse_file_info fi;
  FillOpen(&fi, D(info[5]), static_cast<int>(D(info[6])));
  // false: the caller was interrupted and the kernel will never release this handle, so JS must.
  return Napi::Boolean::New(info.Env(), fuse_reply_create(r->req, &e, &fi) != -ENOENT);
}

// replyAttr(req, attr, timeout)
Napi::Value ReplyAttr(const Napi::CallbackInfo& info) {
  Req* r = Take(info);
  if (!r) return info.Env().Undefined();
  struct stat st;
  FillStat(&st, info[1]);
  fuse_reply_attr(r->req, &st, D(info[2]));
  return info.Env().Undefined();
}

Napi::Value ReplyReadlink(const Napi::CallbackInfo& info) {
  Req* r = Take(info);
  if (!r) return info.Env().Undefined();
  std::string s = info[1].As<Napi::String>().Utf8Value();
  fuse_reply_readlink(r->req, s.c_str());
  return info.Env().Undefined();
}

// replyOpen(req, fh, bits) -> false when the open was interrupted (JS must release the handle).
Napi::Value ReplyOpen(const Napi::CallbackInfo& info) {
  Req* r = Take(info);
  if (!r) return info.Env().Undefined();
  fuse_file_info fi;
  FillOpen(&fi, D(info[1]), static_cast<int>(D(info[2])));
  return Napi::Boolean::New(info.Env(), fuse_reply_open(r->req, &fi) != -ENOENT);
}

Napi::Value ReplyWrite(const Napi::CallbackInfo& info) {
  Req* r = Take(info);
  if (r) fuse_reply_write(r->req, static_cast<size_t>(D(info[1])));
  return info.Env().Undefined();
}

// replyBuf(req, buffer): read data, xattr values, xattr name lists.
Napi::Value ReplyBuf(const Napi::CallbackInfo& info) {
  Req* r = Take(info);
  if (!r) return info.Env().Undefined();
  if (info[1].IsBuffer()) {
    Napi::Buffer<char> b = info[1].As<Napi::Buffer<char>>();
    fuse_reply_buf(r->req, b.Data(), b.Length());
  } else {
    fuse_reply_buf(r->req, nullptr, 0);
  }
  return info.Env().Undefined();
}

Napi::Value ReplyXattrSize(const Napi::CallbackInfo& info) {
  Req* r = Take(info);
  if (r) fuse_reply_xattr(r->req, static_cast<size_t>(D(info[1])));
  return info.Env().Undefined();
}

// replyStatfs(req, the statfs layout of abi.json)
Napi::Value ReplyStatfs(const Napi::CallbackInfo& info) {
  Req* r = Take(info);
  if (!r) return info.Env().Undefined();
  Napi::Float64Array a = info[1].As<Napi::Float64Array>();
  struct statvfs sv;
  memset(&sv, 0, sizeof sv);
  sv.f_bsize = static_cast<unsigned long>(a[STATFS_BSIZE]);
  sv.f_frsize = static_cast<unsigned long>(a[STATFS_FRSIZE]);
  sv.f_blocks = static_cast<fsblkcnt_t>(a[STATFS_BLOCKS]);
  sv.f_bfree = static_cast<fsblkcnt_t>(a[STATFS_BFREE]);
  sv.f_bavail = static_cast<fsblkcnt_t>(a[STATFS_BAVAIL]);
  sv.f_files = static_cast<fsfilcnt_t>(a[STATFS_FILES]);
  sv.f_ffree = static_cast<fsfilcnt_t>(a[STATFS_FFREE]);
  sv.f_favail = static_cast<fsfilcnt_t>(a[STATFS_FAVAIL]);
  sv.f_namemax = static_cast<unsigned long>(a[STATFS_NAMEMAX]);
  fuse_reply_statfs(r->req, &sv);
  return info.Env().Undefined();
}

// replyLock(req, type, start, len, pid)
Napi::Value ReplyLock(const Napi::CallbackInfo& info) {
  Req* r = Take(info);
  if (!r) return info.Env().Undefined();
  struct flock l;
  memset(&l, 0, sizeof l);
  l.l_type = static_cast<short>(D(info[1]));
  l.l_whence = SEEK_SET;
  l.l_start = static_cast<off_t>(D(info[2]));
  l.l_len = static_cast<off_t>(D(info[3]));
  l.l_pid = static_cast<pid_t>(D(info[4]));
  fuse_reply_lock(r->req, &l);
  return info.Env().Undefined();
}

Napi::Value ReplyLseek(const Napi::CallbackInfo& info) {
  Req* r = Take(info);
  if (r) fuse_reply_lseek(r->req, static_cast<off_t>(D(info[1])));
  return info.Env().Undefined();
}

// replyDir(req, size, plus, names[], nums Float64Array, attrTimeout, entryTimeout) -> entries packed.
// nums holds per entry the dirent layout of abi.json, or direntplus (with an attr layout inside).
Napi::Value ReplyDir(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Req* r = Take(info);
  if (!r) return env.Undefined();
  size_t size = static_cast<size_t>(D(info[1]));
  bool plus = info[2].ToBoolean();
  Napi::Array names = info[3].As<Napi::Array>();
  Napi::Float64Array nums = info[4].As<Napi::Float64Array>();
  double attrTimeout = D(info[5]), entryTimeout = D(info[6]);
  const size_t stride = plus ? DIRENTPLUS_LEN : DIRENT_LEN;
  std::vector<char> buf(size);
  size_t used = 0, n = names.Length(), packed = 0;
  for (size_t i = 0; i < n; i++) {
    std::string name = names.Get(i).As<Napi::String>().Utf8Value();
    const double* v = nums.Data() + i * stride;
    size_t need;
    if (plus) {
      fuse_entry_param e;
      memset(&e, 0, sizeof e);
      FillStatFrom(&e.attr, v + DIRENTPLUS_ATTR);
      // "." and ".." (ino 0 here) carry no entry: the kernel must not take a lookup reference on them.
      e.ino = static_cast<fuse_ino_t>(v[DIRENTPLUS_ENTRY_INO]);
      e.generation = 1;
      if (e.ino) {
        e.attr_timeout = attrTimeout;
        e.entry_timeout = entryTimeout;
      }
      need = fuse_add_direntry_plus(r->req, buf.data() + used, size - used, name.c_str(), &e, static_cast<off_t>(v[DIRENTPLUS_NEXT]));
    } else {
      struct stat st;
      memset(&st, 0, sizeof st);
      st.st_ino = static_cast<ino_t>(v[DIRENT_INO]);
      st.st_mode = static_cast<mode_t>(v[DIRENT_MODE]);
      need = fuse_add_direntry(r->req, buf.data() + used, size - used, name.c_str(), &st, static_cast<off_t>(v[DIRENT_NEXT]));
    }
    if (need > size - used) break;
    used += need;
    packed++;
  }
  fuse_reply_buf(r->req, buf.data(), used);
  return Napi::Number::New(env, static_cast<double>(packed));
}

// libfuse explains a refused option through fuse_log (stderr: a daemon's log). While a session is made, its
// messages are kept for the JS error instead, so the user sees which option was refused.
static std::string* gSessionLog = nullptr;
static void KeepLog(enum fuse_log_level, const char* fmt, va_list ap) {
  char line[1024];
  vsnprintf(line, sizeof line, fmt, ap);
  if (gSessionLog) *gSessionLog += line;
  else fputs(line, stderr);
}

// session(fuseArgs[], dispatcher, {writeback, acl, maxWrite}) -> session External, not connected yet: mount()
// or start() connects it. Mount options in fuseArgs (-o ...) are used by mount() only.
Napi::Value NewSession(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array a = info[0].As<Napi::Array>();
  Napi::Function fn = info[1].As<Napi::Function>();
  Napi::Object o = info[2].As<Napi::Object>();
  std::vector<std::string> strs{"ferry"};
  for (uint32_t i = 0; i < a.Length(); i++) strs.push_back(a.Get(i).As<Napi::String>().Utf8Value());
  std::vector<char*> argv;
  for (auto& s : strs) argv.push_back(const_cast<char*>(s.c_str()));
  fuse_args args = FUSE_ARGS_INIT(static_cast<int>(argv.size()), argv.data());

  Session* s = new Session();
  s->writeback = o.Get("writeback").ToBoolean();
  s->acl = o.Get("acl").ToBoolean();
  if (o.Has("maxWrite") && !o.Get("maxWrite").IsUndefined()) s->maxWrite = static_cast<uint32_t>(D(o.Get("maxWrite")));
  std::string why;
  gSessionLog = &why;
  fuse_set_log_func(KeepLog);
  s->se = fuse_session_new(&args, &OPS, sizeof OPS, s);
  fuse_set_log_func(nullptr);  // libfuse's own (stderr) again
  gSessionLog = nullptr;
  fuse_opt_free_args(&args);
  if (!s->se) {
    delete s;
    while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
    Napi::Error::New(env, why.empty() ? "fuse_session_new failed (bad mount options?)" : why).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  s->env = env;
  s->dispatch = Napi::Persistent(fn);
  s->actx = std::make_unique<Napi::AsyncContext>(env, "ferry-fuse");
  return Napi::External<Session>::New(env, s);
}

// Connected: watch the descriptor from the event loop.
void StartPolling(Napi::Env env, Session* s) {
  int fd = fuse_session_fd(s->se);
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  uv_loop_t* loop = nullptr;
  napi_get_uv_event_loop(env, &loop);
  s->poll = new uv_poll_t;
  s->poll->data = s;
  uv_poll_init(loop, s->poll, fd);
  uv_poll_start(s->poll, UV_READABLE, OnReadable);
}

Session* Unconnected(const Napi::CallbackInfo& info) {
  Session* s = SessionOf(info[0]);
  if (s->destroyed || s->connected) {
    Napi::Error::New(info.Env(), s->destroyed ? "FUSE session destroyed" : "FUSE session already connected").ThrowAsJavaScriptException();
    return nullptr;
  }
  return s;
}

// mount(session, mountpoint): mounts (through fusermount3 unless root) and starts serving.
Napi::Value Mount(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Session* s = Unconnected(info);
  if (!s) return env.Undefined();
  std::string mountpoint = info[1].As<Napi::String>().Utf8Value();
  if (mountpoint.rfind("/dev/fd/", 0) == 0) {
    Napi::Error::New(env, "mount() takes a directory; start() takes a /dev/fuse descriptor").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  if (fuse_session_mount(s->se, mountpoint.c_str()) != 0) {
    Napi::Error::New(env, "mounting " + mountpoint + " failed (see the message above; is /dev/fuse there and fusermount3 installed?)")
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  s->connected = true;
  StartPolling(env, s);
  return env.Undefined();
}

// start(session, fd): serves an already mounted FUSE connection (an open /dev/fuse descriptor, e.g. one
// inherited from the process that mounted it). The session owns the descriptor from now on and closes it
// on destroy; unmounting is up to whoever mounted it (or fusermount3 -u).
Napi::Value Start(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Session* s = Unconnected(info);
  if (!s) return env.Undefined();
  int fd = static_cast<int>(D(info[1]));
  if (fd < 0 || fcntl(fd, F_GETFD) == -1) {
    Napi::Error::New(env, "start: " + std::to_string(fd) + " is not an open descriptor").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  // libfuse's convention for "the caller mounted, here is the connection": the mount point /dev/fd/N.
  std::string dev = "/dev/fd/" + std::to_string(fd);
  if (fuse_session_mount(s->se, dev.c_str()) != 0) {
    Napi::Error::New(env, "start: libfuse refused descriptor " + std::to_string(fd)).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  s->connected = true;
  StartPolling(env, s);
  return env.Undefined();
}

// destroy(session): after the loop ended and every request was answered. Unmounts (if still mounted),
// frees the session and lets the process exit.
Napi::Value Destroy(const Napi::CallbackInfo& info) {
  Session* s = SessionOf(info[0]);
  if (s->destroyed) return info.Env().Undefined();
  s->destroyed = true;
  StopPolling(s);
  if (s->connected && !s->handedOver) fuse_session_unmount(s->se);
  fuse_session_destroy(s->se);
  s->se = nullptr;
  free(s->buf.mem);
  s->buf.mem = nullptr;
  if (!s->released) {
    s->released = true;
    s->dispatch.Reset();
  }
  return info.Env().Undefined();
}

Napi::Value Interrupted(const Napi::CallbackInfo& info) {
  Req* r = info[0].As<Napi::External<Req>>().Data();
  if (r->replied) return Napi::Boolean::New(info.Env(), false);  // the fuse_req is gone after its reply
  return Napi::Boolean::New(info.Env(), r->interrupted.load() || fuse_req_interrupted(r->req));
}

Napi::Value Pending(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(SessionOf(info[0])->pending.load()));
}

// fd(session): the /dev/fuse descriptor, to find the connection number for an abort.
Napi::Value Fd(const Napi::CallbackInfo& info) {
  Session* s = SessionOf(info[0]);
  return Napi::Number::New(info.Env(), s->se ? fuse_session_fd(s->se) : -1);
}

// ---- handing a live connection over (docs/upgrade.md) ----

int FdArg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  int fd = static_cast<int>(D(info[i]));
  if (fd < 0 || fcntl(fd, F_GETFD) == -1) {
    Napi::Error::New(info.Env(), std::string(what) + ": " + std::to_string(fd) + " is not an open descriptor").ThrowAsJavaScriptException();
    return -1;
  }
  return fd;
}

Napi::Error ErrnoError(Napi::Env env, const std::string& what) {
  Napi::Error e = Napi::Error::New(env, what + ": " + strerror(errno));
  e.Set("errno", Napi::Number::New(env, errno));
  return e;
}

// mountFd(fuseArgs[], mountpoint) -> fd: mounts and returns the connection's descriptor, serving nothing. A
// supervisor keeps it and starts servers on clones of it; the mount lives as long as one copy is open.
Napi::Value MountFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array a = info[0].As<Napi::Array>();
  std::string mountpoint = info[1].As<Napi::String>().Utf8Value();
  std::vector<std::string> strs{"ferry"};
  for (uint32_t i = 0; i < a.Length(); i++) strs.push_back(a.Get(i).As<Napi::String>().Utf8Value());
  std::vector<char*> argv;
  for (auto& x : strs) argv.push_back(const_cast<char*>(x.c_str()));
  fuse_args args = FUSE_ARGS_INIT(static_cast<int>(argv.size()), argv.data());
  fuse_lowlevel_ops none{};
  fuse_session* se = fuse_session_new(&args, &none, sizeof none, nullptr);
  fuse_opt_free_args(&args);
  if (!se) {
    Napi::Error::New(env, "fuse_session_new failed (bad mount options?)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  if (fuse_session_mount(se, mountpoint.c_str()) != 0) {
    fuse_session_destroy(se);
    Napi::Error::New(env, "mounting " + mountpoint + " failed (see the message above; is /dev/fuse there and fusermount3 installed?)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int fd = fcntl(fuse_session_fd(se), F_DUPFD_CLOEXEC, 3);
  // Destroying the session closes its descriptor, never unmounts: the copy keeps the connection.
  fuse_session_destroy(se);
  if (fd < 0) {
    ErrnoError(env, "mountFd: dup").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Napi::Number::New(env, fd);
}

// cloneFd(fd) -> a new /dev/fuse descriptor on the same connection with its own queue of requests being
// answered: when a server dies, the kernel fails only the requests it had read (its descriptor closes) and
// keeps the others queued for the next server, instead of waiting forever for answers on a shared one.
Napi::Value CloneFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int master = FdArg(info, 0, "cloneFd");
  if (master < 0) return env.Undefined();
  int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    ErrnoError(env, "cloneFd: /dev/fuse").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  uint32_t m = static_cast<uint32_t>(master);
  if (ioctl(fd, FUSE_DEV_IOC_CLONE, &m) != 0) {
    close(fd);
    ErrnoError(env, "cloneFd: FUSE_DEV_IOC_CLONE").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Napi::Number::New(env, fd);
}

Napi::Object ConnObject(Napi::Env env, const fuse_conn_info& c) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("want", Napi::Number::New(env, c.want));
  o.Set("maxWrite", Napi::Number::New(env, c.max_write));
  o.Set("maxRead", Napi::Number::New(env, c.max_read));
  o.Set("maxReadahead", Napi::Number::New(env, c.max_readahead));
  o.Set("maxBackground", Napi::Number::New(env, c.max_background));
  o.Set("congestionThreshold", Napi::Number::New(env, c.congestion_threshold));
  o.Set("timeGran", Napi::Number::New(env, c.time_gran));
  o.Set("protoMajor", Napi::Number::New(env, c.proto_major));
  o.Set("protoMinor", Napi::Number::New(env, c.proto_minor));
  return o;
}

// initRecord(session) -> {init: Buffer, conn} once INIT was answered, else null: what a successor replays.
Napi::Value InitRecord(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Session* s = SessionOf(info[0]);
  if (!s->gotInit || s->initMsg.empty()) return env.Null();
  Napi::Object o = Napi::Object::New(env);
  o.Set("init", Napi::Buffer<char>::Copy(env, s->initMsg.data(), s->initMsg.size()));
  o.Set("conn", ConnObject(env, s->negotiated));
  return o;
}

// resume(session, fd, init, conn): serves a connection whose INIT another process answered. libfuse refuses
// every request before INIT, so the recorded INIT is processed here as if just read: ll_init answers with the
// recorded parameters and libfuse's reply to the kernel, for a request long answered, is refused (ENOENT)
// and dropped. Then the descriptor is watched as start() does.
Napi::Value Resume(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Session* s = Unconnected(info);
  if (!s) return env.Undefined();
  int fd = FdArg(info, 1, "resume");
  if (fd < 0) return env.Undefined();
  Napi::Buffer<char> init = info[2].As<Napi::Buffer<char>>();
  Napi::Object c = info[3].As<Napi::Object>();
  if (init.Length() < sizeof(fuse_in_header) + sizeof(fuse_init_in) - 64 ||
      reinterpret_cast<fuse_in_header*>(init.Data())->opcode != FUSE_INIT) {
    Napi::Error::New(env, "resume: the recorded INIT is not an INIT request").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto num = [&](const char* k) { return static_cast<unsigned>(c.Get(k).As<Napi::Number>().Uint32Value()); };
  s->rec.want = num("want");
  s->rec.max_write = num("maxWrite");
  s->rec.max_read = num("maxRead");
  s->rec.max_readahead = num("maxReadahead");
  s->rec.max_background = num("maxBackground");
  s->rec.congestion_threshold = num("congestionThreshold");
  s->rec.time_gran = num("timeGran");
  std::string dev = "/dev/fd/" + std::to_string(fd);
  if (fuse_session_mount(s->se, dev.c_str()) != 0) {
    Napi::Error::New(env, "resume: libfuse refused descriptor " + std::to_string(fd)).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  s->connected = true;
  s->restoring = true;
  s->initMsg.assign(init.Data(), init.Data() + init.Length());
  fuse_buf b{};
  b.size = init.Length();
  b.mem = s->initMsg.data();
  fuse_session_process_buf(s->se, &b);
  s->restoring = false;
  if (!s->gotInit || fuse_session_exited(s->se)) {
    Napi::Error::New(env, "resume: libfuse did not take the recorded INIT").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  StartPolling(env, s);
  return env.Undefined();
}

// handOver(session): stops reading requests (the successor reads them from now on); the requests read so far
// are still answered through this session. destroy() then closes the descriptor without unmounting.
Napi::Value HandOver(const Napi::CallbackInfo& info) {
  Session* s = SessionOf(info[0]);
  StopPolling(s);
  s->handedOver = true;
  return info.Env().Undefined();
}

// ctlConnect(path) -> fd: a blocking Unix stream socket to a mount's control socket.
Napi::Value CtlConnect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = info[0].As<Napi::String>().Utf8Value();
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) {
    Napi::Error::New(env, "ctlConnect: socket path too long: " + path).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    Napi::Error e = ErrnoError(env, "connecting to " + path);
    if (fd >= 0) close(fd);
    e.ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Napi::Number::New(env, fd);
}

// ctlSend(fd, data, fds[]): one framed message (4-byte big-endian length, then the bytes) with descriptors
// attached (SCM_RIGHTS). Blocking: messages are small and the peer reads them.
Napi::Value CtlSend(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArg(info, 0, "ctlSend");
  if (fd < 0) return env.Undefined();
  Napi::Buffer<char> data = info[1].As<Napi::Buffer<char>>();
  std::vector<int> fds;
  if (info.Length() > 2 && info[2].IsArray()) {
    Napi::Array a = info[2].As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); i++) fds.push_back(a.Get(i).As<Napi::Number>().Int32Value());
  }
  std::vector<char> msg(4 + data.Length());
  uint32_t n = static_cast<uint32_t>(data.Length());
  msg[0] = static_cast<char>(n >> 24);
  msg[1] = static_cast<char>(n >> 16);
  msg[2] = static_cast<char>(n >> 8);
  msg[3] = static_cast<char>(n);
  memcpy(msg.data() + 4, data.Data(), data.Length());
  size_t sent = 0;
  bool first = true;
  while (sent < msg.size()) {
    iovec iov{msg.data() + sent, msg.size() - sent};
    msghdr mh{};
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    std::vector<char> ctl;
    if (first && !fds.empty()) {
      ctl.resize(CMSG_SPACE(sizeof(int) * fds.size()));
      mh.msg_control = ctl.data();
      mh.msg_controllen = ctl.size();
      cmsghdr* cm = CMSG_FIRSTHDR(&mh);
      cm->cmsg_level = SOL_SOCKET;
      cm->cmsg_type = SCM_RIGHTS;
      cm->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
      memcpy(CMSG_DATA(cm), fds.data(), sizeof(int) * fds.size());
    }
    ssize_t r = sendmsg(fd, &mh, MSG_NOSIGNAL);
    if (r < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        pollfd p{fd, POLLOUT, 0};
        poll(&p, 1, 1000);
        continue;
      }
      ErrnoError(env, "ctlSend").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    first = false;
    sent += static_cast<size_t>(r);
  }
  return env.Undefined();
}

// ctlRecv(fd, timeoutMs) -> {data: Buffer, fds: number[]} | null at end of stream. Blocking up to the timeout.
Napi::Value CtlRecv(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArg(info, 0, "ctlRecv");
  if (fd < 0) return env.Undefined();
  int timeout = static_cast<int>(D(info[1]));
  std::vector<char> got;
  std::vector<int> fds;
  size_t want = 4;
  while (got.size() < want) {
    pollfd p{fd, POLLIN, 0};
    int pr = poll(&p, 1, timeout);
    if (pr == 0) {
      for (int f : fds) close(f);
      Napi::Error e = Napi::Error::New(env, "no answer on the control socket within " + std::to_string(timeout) + " ms");
      e.Set("code", Napi::String::New(env, "ETIMEDOUT"));
      e.ThrowAsJavaScriptException();
      return env.Undefined();
    }
    if (pr < 0) {
      if (errno == EINTR) continue;
      ErrnoError(env, "ctlRecv").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    char buf[65536];
    iovec iov{buf, std::min(sizeof buf, want - got.size())};
    char ctl[CMSG_SPACE(sizeof(int) * 8)];
    msghdr mh{};
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = ctl;
    mh.msg_controllen = sizeof ctl;
    ssize_t r = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
    if (r < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      ErrnoError(env, "ctlRecv").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    for (cmsghdr* cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
      if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
        size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        int* p2 = reinterpret_cast<int*>(CMSG_DATA(cm));
        for (size_t i = 0; i < k; i++) fds.push_back(p2[i]);
      }
    }
    if (r == 0) {
      for (int f : fds) close(f);
      if (got.empty()) return env.Null();
      Napi::Error::New(env, "ctlRecv: the peer closed in the middle of a message").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    got.insert(got.end(), buf, buf + r);
    if (want == 4 && got.size() >= 4) {
      uint32_t n = (static_cast<uint32_t>(static_cast<unsigned char>(got[0])) << 24) | (static_cast<uint32_t>(static_cast<unsigned char>(got[1])) << 16) |
                   (static_cast<uint32_t>(static_cast<unsigned char>(got[2])) << 8) | static_cast<unsigned char>(got[3]);
      want = 4 + n;
    }
  }
  Napi::Object o = Napi::Object::New(env);
  o.Set("data", Napi::Buffer<char>::Copy(env, got.data() + 4, got.size() - 4));
  Napi::Array fa = Napi::Array::New(env, fds.size());
  for (size_t i = 0; i < fds.size(); i++) fa.Set(i, Napi::Number::New(env, fds[i]));
  o.Set("fds", fa);
  return o;
}

Napi::Value CloseFd(const Napi::CallbackInfo& info) {
  int fd = static_cast<int>(D(info[0]));
  if (fd >= 0) close(fd);
  return info.Env().Undefined();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("mountFd", Napi::Function::New(env, MountFd));
  exports.Set("cloneFd", Napi::Function::New(env, CloneFd));
  exports.Set("initRecord", Napi::Function::New(env, InitRecord));
  exports.Set("resume", Napi::Function::New(env, Resume));
  exports.Set("handOver", Napi::Function::New(env, HandOver));
  exports.Set("ctlConnect", Napi::Function::New(env, CtlConnect));
  exports.Set("ctlSend", Napi::Function::New(env, CtlSend));
  exports.Set("ctlRecv", Napi::Function::New(env, CtlRecv));
  exports.Set("closeFd", Napi::Function::New(env, CloseFd));
  exports.Set("session", Napi::Function::New(env, NewSession));
  exports.Set("mount", Napi::Function::New(env, Mount));
  exports.Set("start", Napi::Function::New(env, Start));
  exports.Set("destroy", Napi::Function::New(env, Destroy));
  exports.Set("pending", Napi::Function::New(env, Pending));
  exports.Set("interrupted", Napi::Function::New(env, Interrupted));
  exports.Set("fd", Napi::Function::New(env, Fd));
  exports.Set("replyErr", Napi::Function::New(env, ReplyErr));
  exports.Set("replyNone", Napi::Function::New(env, ReplyNone));
  exports.Set("replyEntry", Napi::Function::New(env, ReplyEntry));
  exports.Set("replyCreate", Napi::Function::New(env, ReplyCreate));
  exports.Set("replyAttr", Napi::Function::New(env, ReplyAttr));
  exports.Set("replyReadlink", Napi::Function::New(env, ReplyReadlink));
  exports.Set("replyOpen", Napi::Function::New(env, ReplyOpen));
  exports.Set("replyWrite", Napi::Function::New(env, ReplyWrite));
  exports.Set("replyBuf", Napi::Function::New(env, ReplyBuf));
  exports.Set("replyXattrSize", Napi::Function::New(env, ReplyXattrSize));
  exports.Set("replyStatfs", Napi::Function::New(env, ReplyStatfs));
  exports.Set("replyLock", Napi::Function::New(env, ReplyLock));
  exports.Set("replyLseek", Napi::Function::New(env, ReplyLseek));
  exports.Set("replyDir", Napi::Function::New(env, ReplyDir));
  exports.Set("libfuseVersion", Napi::String::New(env, fuse_pkgversion()));
  return exports;
}

}  // namespace

NODE_API_MODULE(ferry_fuse, Init)
