// SPDX-License-Identifier: MIT
// Test helper: run a callable, require that it throws exactly the expected exception type, return its message.
#pragma once

#include <doctest/doctest.h>

#include <initializer_list>
#include <string>
#include <typeinfo>

#include "fusenet/io/error.hpp"

namespace fusenet::test {

/// Returns the what() of the E thrown by f; fails the test if f throws nothing or something else.
template <class E, class F>
std::string message_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    CHECK_MESSAGE(typeid(e) == typeid(E), "threw a type derived from the expected one: " << typeid(e).name());
    return e.what();
  } catch (const std::exception& e) {
    FAIL("threw the wrong exception type " << typeid(e).name() << ": " << e.what());
  }
  FAIL("no exception thrown");
  return {};
}

/// The what() of the E that f throws, or "" when f throws nothing, so that a test can check either outcome (any
/// other exception propagates and fails the test).
template <class E, class F>
std::string what_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  return {};
}

/// what_of for the fusenet::file_error that the file readers throw.
template <class F>
std::string file_error_of(F&& f) {
  return what_of<file_error>(f);
}

/// Whether `text` contains `part` (doctest 2.4.9 has no Contains matcher).
inline bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

/// Checks that the message mentions every part (file name, key, offending values).
inline void check_mentions(const std::string& message, std::initializer_list<std::string> parts) {
  for (const auto& part : parts) CHECK_MESSAGE(contains(message, part), "message \"" << message << "\" lacks \"" << part << "\"");
}

}  // namespace fusenet::test
