// Recycled coroutine frames: `task` promises allocate their frames here.
//
// A coroutine handler (and every task it awaits) allocates a frame per
// call; with a free list per thread and size class, a server in steady
// state reuses frames instead of calling the allocator once per request.
// Frames freed on another thread than the one that made them go to the
// freeing thread's lists (memory is memory); each list keeps at most
// `max_cached` frames and a thread at most 1 MiB of them, the rest go back
// to the allocator. Built with a
// sanitizer, the pool is off, so ASan and TSan see every frame's real
// lifetime (use-after-free of a destroyed coroutine frame stays detectable);
// the environment variable FASTJSON_NO_FRAME_POOL (any value) turns it off
// at run time too, for valgrind.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>

#include "fastjson/task.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define FASTJSON_FRAME_POOL 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#define FASTJSON_FRAME_POOL 0
#endif
#endif
#ifndef FASTJSON_FRAME_POOL
#define FASTJSON_FRAME_POOL 1
#endif

namespace fastjson::detail {

#if FASTJSON_FRAME_POOL
namespace {

constexpr std::size_t step = 64;        // size classes of 64 bytes
constexpr std::size_t classes = 64;     // frames up to 4 KiB are recycled
constexpr std::uint32_t max_cached = 128;  // per class and thread
constexpr std::size_t max_cached_bytes = std::size_t{1} << 20;  // per thread, all classes

struct free_frame {
  free_frame* next;
};

// Trivially destructible, so it stays usable while the thread's other
// thread_local objects are destroyed (a frame may be freed then); `closed`
// is set once `cleaner` has returned the cached frames.
struct frame_lists {
  free_frame* head[classes];
  std::uint32_t count[classes];
  std::size_t bytes;  // cached, all classes
  void* cleaner;  // set on first use: constructing it registers its destructor
  bool registered;
  bool closed;
};
thread_local frame_lists lists{};

struct cleaner {
  ~cleaner() {
    for (std::size_t c = 0; c < classes; ++c) {
      while (free_frame* f = lists.head[c]) {
        lists.head[c] = f->next;
        ::operator delete(f);
      }
      lists.count[c] = 0;
    }
    lists.bytes = 0;
    lists.closed = true;
  }
};
thread_local cleaner the_cleaner;

inline std::size_t class_of(std::size_t n) noexcept { return n == 0 ? 0 : (n - 1) / step; }

bool env_disabled() noexcept {
  static const bool off = std::getenv("FASTJSON_NO_FRAME_POOL") != nullptr;
  return off;
}

}  // namespace
#endif

bool frame_pool_enabled() noexcept {
#if FASTJSON_FRAME_POOL
  return !env_disabled();
#else
  return false;
#endif
}

void* frame_alloc(std::size_t n) {
#if FASTJSON_FRAME_POOL
  const std::size_t c = class_of(n);
  if (c < classes && !lists.closed && !env_disabled()) {
    if (free_frame* f = lists.head[c]) {
      lists.head[c] = f->next;
      --lists.count[c];
      lists.bytes -= (c + 1) * step;
      return f;
    }
    if (!lists.registered) {
      lists.registered = true;
      lists.cleaner = &the_cleaner;  // its destructor empties the lists at thread exit
    }
    return ::operator new((c + 1) * step);
  }
  if (c < classes) return ::operator new((c + 1) * step);
#endif
  return ::operator new(n);
}

void frame_free(void* p, std::size_t n) noexcept {
#if FASTJSON_FRAME_POOL
  const std::size_t c = class_of(n);
  if (c < classes) {
    const std::size_t size = (c + 1) * step;
    if (!lists.closed && lists.registered && lists.count[c] < max_cached &&
        lists.bytes + size <= max_cached_bytes) {
      auto* f = static_cast<free_frame*>(p);
      f->next = lists.head[c];
      lists.head[c] = f;
      ++lists.count[c];
      lists.bytes += size;
      return;
    }
    ::operator delete(p);
    return;
  }
#endif
  (void)n;  // unsized: clang before 19 does not declare the sized form by default
  ::operator delete(p);
}

}  // namespace fastjson::detail
