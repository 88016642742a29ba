// A user's program built against fastjson, from the installed package or
// through add_subdirectory: it must compile, link and run.
#include <fastjson/fastjson.h>

#include <cstdio>

int main() {
  std::printf("fastjson %.*s\n", static_cast<int>(fastjson::version().size()),
              fastjson::version().data());
  return fastjson::version().empty() ? 1 : 0;
}
