#pragma once
/// \file buffer.h
/// A growable, move-only byte buffer: the unit of output in fastjson.
///
/// Response bytes (status line, headers, JSON) are appended straight into a
/// connection's `buffer`; the JSON writer appends into any `buffer`. Unlike
/// `std::string`, growing never zero-fills, and `prepare()/commit()` let a
/// writer reserve space, write into it directly and commit what it used.

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <string_view>
#include <utility>

namespace fastjson {

class buffer {
 public:
  buffer() noexcept = default;
  explicit buffer(std::size_t capacity) { reserve(capacity); }
  buffer(const buffer&) = delete;
  buffer& operator=(const buffer&) = delete;
  buffer(buffer&& o) noexcept
      : data_(std::exchange(o.data_, nullptr)),
        size_(std::exchange(o.size_, 0)),
        capacity_(std::exchange(o.capacity_, 0)) {}
  buffer& operator=(buffer&& o) noexcept {
    if (this != &o) {
      std::free(data_);
      data_ = std::exchange(o.data_, nullptr);
      size_ = std::exchange(o.size_, 0);
      capacity_ = std::exchange(o.capacity_, 0);
    }
    return *this;
  }
  ~buffer() { std::free(data_); }

  char* data() noexcept { return data_; }
  const char* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }
  std::size_t capacity() const noexcept { return capacity_; }
  bool empty() const noexcept { return size_ == 0; }
  /// A view of the contents; valid until the buffer is next modified.
  std::string_view view() const noexcept { return {data_, size_}; }
  std::string str() const { return std::string(data_, size_); }

  /// Ensures room for `n` more bytes and returns where they go. Write up to
  /// `n` bytes there, then `commit()` the number written.
  char* prepare(std::size_t n) {
    if (capacity_ - size_ < n) grow(n);
    return data_ + size_;
  }
  void commit(std::size_t n) noexcept { size_ += n; }

  void append(const char* p, std::size_t n) {
    // An empty string_view may carry a null pointer (a request without a
    // body), and memcpy from null is undefined even for 0 bytes.
    if (n == 0) return;
    std::memcpy(prepare(n), p, n);
    size_ += n;
  }
  void append(std::string_view s) { append(s.data(), s.size()); }
  void push_back(char c) {
    if (size_ == capacity_) grow(1);
    data_[size_++] = c;
  }
  buffer& operator+=(std::string_view s) { append(s); return *this; }
  buffer& operator+=(char c) { push_back(c); return *this; }

  void reserve(std::size_t cap) {
    if (cap > capacity_) reallocate(cap);
  }
  /// Sets the size; new bytes are uninitialised.
  void resize(std::size_t n) {
    reserve(n);
    size_ = n;
  }
  /// Empties the buffer but keeps its memory (the steady-state case).
  void clear() noexcept { size_ = 0; }
  /// Drops the first `n` bytes.
  void consume(std::size_t n) noexcept {
    if (n >= size_) {
      size_ = 0;
      return;
    }
    std::memmove(data_, data_ + n, size_ - n);
    size_ -= n;
  }
  /// Returns the memory to the allocator.
  void release() noexcept {
    std::free(data_);
    data_ = nullptr;
    size_ = capacity_ = 0;
  }

 private:
  void grow(std::size_t extra) {
    std::size_t want = size_ + extra;
    std::size_t cap = capacity_ ? capacity_ * 2 : 256;
    while (cap < want) cap *= 2;
    reallocate(cap);
  }
  void reallocate(std::size_t cap) {
    void* p = std::realloc(data_, cap);
    if (!p) throw std::bad_alloc();
    data_ = static_cast<char*>(p);
    capacity_ = cap;
  }

  char* data_ = nullptr;
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
};

}  // namespace fastjson
