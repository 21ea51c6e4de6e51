// expect: fusenet needs C++20: compile with -std=c++20
// Built with -std=c++17 (tests/compile_fail/meson.build): the headers give this one #error, not hundreds of lines
// about concepts (code of the user's own that names fusenet's types still fails after it). The control compiles
// the same file as C++20.
#include <fusenet/fusenet.hpp>

int main() { return 0; }
