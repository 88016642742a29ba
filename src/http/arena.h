#pragma once
// A bump allocator for per-request scratch (decoded paths, params, query
// values). reset() keeps the first block, so a steady stream of ordinary
// requests allocates nothing; an unusually large request borrows extra
// blocks that are freed at reset.

#include <cstddef>
#include <memory>
#include <vector>

namespace fastjson::detail {

class arena {
 public:
  static constexpr std::size_t block_size = 4096;

  char* allocate(std::size_t n) {
    if (!first_) first_ = std::make_unique<char[]>(block_size);
    if (extra_.empty() && used_ + n <= block_size) {
      char* p = first_.get() + used_;
      used_ += n;
      return p;
    }
    if (!extra_.empty() && extra_used_ + n <= extra_cap_) {
      char* p = extra_.back().get() + extra_used_;
      extra_used_ += n;
      return p;
    }
    extra_cap_ = n > block_size ? n : block_size;
    extra_.push_back(std::make_unique<char[]>(extra_cap_));
    extra_used_ = n;
    return extra_.back().get();
  }
  void reset() noexcept {
    used_ = 0;
    extra_.clear();
    extra_used_ = extra_cap_ = 0;
  }

 private:
  std::unique_ptr<char[]> first_;
  std::size_t used_ = 0;
  std::vector<std::unique_ptr<char[]>> extra_;
  std::size_t extra_used_ = 0, extra_cap_ = 0;
};

}  // namespace fastjson::detail
