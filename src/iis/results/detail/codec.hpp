// Internal: how the values of the results schema map to JSON and back, checked on the way in.
// A struct's keys are listed once, in Schema<T>::fields (results.cpp), and both directions
// walk that list, so a key cannot be written without being read.
#pragma once

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

namespace iis::results::detail {

using nlohmann::json;

// When a key must be present.
enum Need {
  kAlways,        // in every version (the figures every reader needs)
  kWritten,       // `iis fit` always writes it: required from schema version 1 on
  kWhereApplies,  // written only where it applies (a concept type, a selection rule)
};

// Where a value sits in its file, for messages: "per_seed[0].ratios[2].top1".
struct Place {
  const std::string* source = nullptr;
  std::string key;
  int64_t version = 0;
  bool nullable = true;  // whether a double may be null (NaN)

  Place child(const std::string& name, Need need) const;
  Place item(size_t index) const;
  bool requires_key(Need need) const {
    return need == kAlways || (need == kWritten && version > 0);
  }
};

// Throws iis::Error: `<source>: "<key>" <what>`, with a hint to re-run the fit.
[[noreturn]] void fail(const Place& at, const std::string& what);

// Throws iis::Error for a required key that is missing or null.
[[noreturn]] void fail_missing(const Place& at, bool present_as_null);

// The schema of a struct: Schema<T>::fields(value, visit) calls visit(key, member, need) for
// every key of T, in the order errors are reported.
template <class T>
struct Schema;

// JSON of a struct: an object with the keys Schema<T> lists.
template <class T>
struct Codec {
  static constexpr const char* kPlural = "objects";
  static json write(const T& value);
  static void read(const json& j, T& value, const Place& at);
};

template <>
struct Codec<double> {  // NaN and ±inf ↔ null (as nlohmann dumps them)
  static constexpr const char* kPlural = "numbers";
  static json write(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }
  static void read(const json& j, double& v, const Place& at) {
    if (j.is_null() && at.nullable) {
      v = std::numeric_limits<double>::quiet_NaN();
      return;
    }
    if (!j.is_number()) fail(at, "is not a number");
    v = j.get<double>();
  }
};

template <>
struct Codec<int64_t> {
  static constexpr const char* kPlural = "whole numbers";
  static json write(int64_t v) { return json(v); }
  static void read(const json& j, int64_t& v, const Place& at) {
    const bool fits =
        j.is_number_integer() &&
        !(j.is_number_unsigned() && j.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX));
    if (!fits) fail(at, "is not a whole number");
    v = j.get<int64_t>();
  }
};

template <>
struct Codec<uint64_t> {
  static constexpr const char* kPlural = "whole numbers ≥ 0";
  static json write(uint64_t v) { return json(v); }
  static void read(const json& j, uint64_t& v, const Place& at) {
    const bool fits = j.is_number_unsigned() || (j.is_number_integer() && j.get<int64_t>() >= 0);
    if (!fits) fail(at, "is not a whole number ≥ 0");
    v = j.get<uint64_t>();
  }
};

template <>
struct Codec<bool> {
  static constexpr const char* kPlural = "booleans";
  static json write(bool v) { return json(v); }
  static void read(const json& j, bool& v, const Place& at) {
    if (!j.is_boolean()) fail(at, "is not true or false");
    v = j.get<bool>();
  }
};

template <>
struct Codec<std::string> {
  static constexpr const char* kPlural = "strings";
  static json write(const std::string& v) { return json(v); }
  static void read(const json& j, std::string& v, const Place& at) {
    if (!j.is_string()) fail(at, "is not a string");
    v = j.get<std::string>();
  }
};

template <class T>
struct Codec<std::vector<T>> {
  static constexpr const char* kPlural = "lists";
  static json write(const std::vector<T>& v) {
    json out = json::array();
    for (const auto& e : v) out.push_back(Codec<T>::write(e));
    return out;
  }
  static void read(const json& j, std::vector<T>& v, const Place& at) {
    if (!j.is_array()) fail(at, std::string("is not a list of ") + Codec<T>::kPlural);
    v.assign(j.size(), T{});
    for (size_t i = 0; i < j.size(); ++i) Codec<T>::read(j[i], v[i], at.item(i));
  }
};

template <class T>
struct Codec<std::map<std::string, T>> {
  static constexpr const char* kPlural = "objects";
  static json write(const std::map<std::string, T>& v) {
    json out = json::object();
    for (const auto& [key, e] : v) out[key] = Codec<T>::write(e);
    return out;
  }
  static void read(const json& j, std::map<std::string, T>& v, const Place& at) {
    if (!j.is_object()) fail(at, "is not an object");
    v.clear();
    for (const auto& [key, e] : j.items()) Codec<T>::read(e, v[key], at.child(key, kWritten));
  }
};

// Visits a struct's keys to write them: optionals only where set.
struct Writer {
  json& out;
  template <class T>
  void operator()(const char* key, const T& value, Need) {
    out[key] = Codec<T>::write(value);
  }
  template <class T>
  void operator()(const char* key, const std::optional<T>& value, Need) {
    if (value) out[key] = Codec<T>::write(*value);
  }
};

// Visits a struct's keys to read them from `object`. A key that is absent (or null, for a
// value other than a number) is an error where required, else reads as "not recorded": NaN,
// nullopt, or the type's default.
struct Reader {
  const json& object;
  const Place& at;

  template <class T>
  void operator()(const char* key, T& value, Need need) {
    const Place here = at.child(key, need);
    const json* j = find(key, here, need, std::is_same_v<T, double>);
    if (j != nullptr) {
      Codec<T>::read(*j, value, here);
    } else if constexpr (std::is_same_v<T, double>) {
      value = std::numeric_limits<double>::quiet_NaN();
    } else {
      value = T{};
    }
  }
  template <class T>
  void operator()(const char* key, std::optional<T>& value, Need need) {
    const Place here = at.child(key, need);
    const json* j = find(key, here, need, std::is_same_v<T, double>);
    value.reset();
    if (j == nullptr) return;
    T v{};
    Codec<T>::read(*j, v, here);
    value = std::move(v);
  }

 private:
  // The value of `key`, or nullptr where it is absent (or a null that is not a number).
  const json* find(const char* key, const Place& here, Need need, bool number) const {
    const auto it = object.find(key);
    const bool absent = it == object.end() || (it->is_null() && !number);
    if (absent && here.requires_key(need)) fail_missing(here, it != object.end());
    return absent ? nullptr : &*it;
  }
};

template <class T>
json Codec<T>::write(const T& value) {
  json out = json::object();
  Writer writer{out};
  Schema<T>::fields(value, writer);
  return out;
}

template <class T>
void Codec<T>::read(const json& j, T& value, const Place& at) {
  if (!j.is_object()) fail(at, "is not an object");
  Reader reader{j, at};
  Schema<T>::fields(value, reader);
}

}  // namespace iis::results::detail
