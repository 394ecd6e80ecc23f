// Zero-copy blob downloads for Lanyard: sendfile(2) from a blob file straight into a plain
// TCP socket, driven by the Node event loop (no thread is parked on a slow client).
//
//   send(socketFd, fileFd, offset, length, done) -> handle
//     Sends bytes [offset, offset + length) of fileFd to socketFd. The socket fd is dup'ed,
//     so the transfer keeps its own reference even if Node closes the socket meanwhile.
//     Each time the socket is writable, up to SLICE bytes go out, then the loop moves on, so
//     concurrent downloads share the thread fairly. done(err, sentBytes) is called exactly
//     once, always asynchronously; err carries `errno` and `code` (e.g. EPIPE, ECANCELED).
//   cancel(handle)
//     Stops a transfer that has not finished yet (the client went away); done() gets
//     ECANCELED. Harmless after completion.
//
// Linux only (sendfile's semantics differ elsewhere); on other systems the module exports
// no functions and Lanyard keeps its buffered path. Like nginx's default, a read of a page
// that is not cached blocks the loop for that read; the file is marked sequential so the
// kernel reads ahead.
#include <node_api.h>
#include <uv.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifdef __linux__
#include <fcntl.h>
#include <sys/sendfile.h>
#include <unistd.h>

#define SLICE (8 * 1024 * 1024)

typedef struct transfer {
  uv_poll_t poll;
  napi_env env;
  napi_ref done;            // the JS callback, released once it has been called
  napi_async_context actx;  // so callbacks run with a proper async context and microtasks
  int sock;                 // our dup of the socket fd
  int file;                 // borrowed: JS keeps the file open until done() is called
  int64_t next;             // next file offset to send
  int64_t remaining;
  int64_t sent;
  int finished;             // done() has been scheduled
  int refs;                 // 1 for the JS handle (external), 1 for the uv handle
} transfer;

static void release(transfer *t) {
  if (--t->refs == 0) free(t);
}

static void on_closed(uv_handle_t *h) {
  transfer *t = (transfer *)h->data;
  if (t->sock >= 0) close(t->sock);
  t->sock = -1;
  release(t);
}

static napi_value errno_error(napi_env env, int err) {
  napi_value msg, code, num, e;
  const char *name = err == EPIPE ? "EPIPE" : err == ECONNRESET ? "ECONNRESET" : err == ECANCELED ? "ECANCELED"
                     : err == ENODATA ? "ENODATA" : "EIO";
  napi_create_string_utf8(env, err == ENODATA ? "blob file is shorter than its recorded size" : strerror(err),
                          NAPI_AUTO_LENGTH, &msg);
  napi_create_error(env, NULL, msg, &e);
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code);
  napi_create_int32(env, err, &num);
  napi_set_named_property(env, e, "code", code);
  napi_set_named_property(env, e, "errno", num);
  return e;
}

// Stop polling and call done(err, sent) from the event loop.
static void finish(transfer *t, int err) {
  if (t->finished) return;
  t->finished = 1;
  uv_poll_stop(&t->poll);
  napi_env env = t->env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value cb, recv, args[2], result;
  napi_get_reference_value(env, t->done, &cb);
  napi_get_global(env, &recv);  // MakeCallback needs an object as `this`
  if (err) args[0] = errno_error(env, err);
  else napi_get_null(env, &args[0]);
  napi_create_int64(env, t->sent, &args[1]);
  napi_make_callback(env, t->actx, recv, cb, 2, args, &result);
  napi_delete_reference(env, t->done);
  napi_async_destroy(env, t->actx);
  napi_close_handle_scope(env, scope);
  uv_close((uv_handle_t *)&t->poll, on_closed);
}

static void on_writable(uv_poll_t *p, int status, int events) {
  transfer *t = (transfer *)p->data;
  if (t->finished) return;
  if (status < 0) {
    finish(t, EPIPE);
    return;
  }
  int64_t budget = SLICE;
  while (t->remaining > 0 && budget > 0) {
    off_t off = (off_t)t->next;
    size_t want = (size_t)(t->remaining < budget ? t->remaining : budget);
    ssize_t n = sendfile(t->sock, t->file, &off, want);
    if (n > 0) {
      t->next += n;
      t->sent += n;
      t->remaining -= n;
      budget -= n;
      continue;
    }
    if (n == 0) {
      finish(t, ENODATA);
      return;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN) return;  // wait for the next writable event
    finish(t, errno);
    return;
  }
  if (t->remaining == 0) finish(t, 0);
}

static void finalize_handle(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  release((transfer *)data);
}

static napi_value throw_type(napi_env env, const char *msg) {
  napi_throw_type_error(env, NULL, msg);
  return NULL;
}

static napi_value js_send(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value a[5];
  napi_get_cb_info(env, info, &argc, a, NULL, NULL);
  if (argc < 5) return throw_type(env, "send(socketFd, fileFd, offset, length, done)");
  int32_t sock, file;
  int64_t off, len;
  napi_valuetype cbt;
  if (napi_get_value_int32(env, a[0], &sock) != napi_ok || napi_get_value_int32(env, a[1], &file) != napi_ok ||
      napi_get_value_int64(env, a[2], &off) != napi_ok || napi_get_value_int64(env, a[3], &len) != napi_ok ||
      napi_typeof(env, a[4], &cbt) != napi_ok || cbt != napi_function || sock < 0 || file < 0 || off < 0 || len < 0)
    return throw_type(env, "send(socketFd, fileFd, offset, length, done): bad arguments");

  uv_loop_t *loop;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) return throw_type(env, "no event loop");
  transfer *t = (transfer *)calloc(1, sizeof *t);
  if (!t) {
    napi_throw_error(env, "ENOMEM", "out of memory");
    return NULL;
  }
  t->env = env;
  t->file = file;
  t->next = off;
  t->remaining = len;
  t->sock = fcntl(sock, F_DUPFD_CLOEXEC, 0);
  if (t->sock < 0) {
    free(t);
    napi_throw(env, errno_error(env, errno));
    return NULL;
  }
  if (uv_poll_init(loop, &t->poll, t->sock) != 0) {
    close(t->sock);
    free(t);
    napi_throw_error(env, "EIO", "cannot watch the socket");
    return NULL;
  }
  t->poll.data = t;
  t->refs = 2;
  napi_value name, handle;
  napi_create_string_utf8(env, "lanyard.sendfile", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, NULL, name, &t->actx);
  napi_create_reference(env, a[4], 1, &t->done);
  posix_fadvise(file, off, len, POSIX_FADV_SEQUENTIAL);
  napi_create_external(env, t, finalize_handle, NULL, &handle);
  // the first writable event arrives on the next loop turn: done() is never synchronous
  uv_poll_start(&t->poll, UV_WRITABLE | UV_DISCONNECT, on_writable);
  return handle;
}

static napi_value js_cancel(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value a[1];
  void *data = NULL;
  napi_get_cb_info(env, info, &argc, a, NULL, NULL);
  if (argc < 1 || napi_get_value_external(env, a[0], &data) != napi_ok || !data)
    return throw_type(env, "cancel(handle)");
  transfer *t = (transfer *)data;
  if (!t->finished) finish(t, ECANCELED);
  return NULL;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "send", NAPI_AUTO_LENGTH, js_send, NULL, &fn);
  napi_set_named_property(env, exports, "send", fn);
  napi_create_function(env, "cancel", NAPI_AUTO_LENGTH, js_cancel, NULL, &fn);
  napi_set_named_property(env, exports, "cancel", fn);
  return exports;
}

#else  // not Linux: nothing to offer, the caller uses its buffered path

NAPI_MODULE_INIT() {
  return exports;
}

#endif
