// tandemctl: the command-line client of tandemd's management API.
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "apps/tandemctl/cli.hpp"

int main(int argc, char** argv) {
  std::vector<std::string> words(argv + 1, argv + argc);
  return tandemctl::run(words, std::cout, std::cerr, std::getenv("TANDEMCTL_SOCKET"));
}
