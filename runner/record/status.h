#pragma once
// Expected failures travel as values (STYLE.md: exceptions only for errors that
// end the run). Status carries whose fault an error is, so callers can decide
// between retrying, sending a record to the error policy, and stopping.
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace streamrun {

enum class ErrorKind {
  kConfig,    // the user's pipeline file: exit 2
  kRecord,    // one record: the error policy decides
  kExternal,  // a system we talk to (file, broker, store): may be retried
  kInternal,  // our bug
};

class [[nodiscard]] Status {
 public:
  Status() = default;
  static Status Ok() { return Status(); }
  static Status Error(ErrorKind kind, std::string message) {
    Status s;
    s.error_ = Err{kind, std::move(message)};
    return s;
  }
  static Status Config(std::string m) { return Error(ErrorKind::kConfig, std::move(m)); }
  static Status External(std::string m) { return Error(ErrorKind::kExternal, std::move(m)); }
  static Status Internal(std::string m) { return Error(ErrorKind::kInternal, std::move(m)); }

  bool ok() const { return !error_.has_value(); }
  ErrorKind kind() const { return error_->kind; }
  const std::string& message() const { return error_->message; }

 private:
  struct Err {
    ErrorKind kind;
    std::string message;
  };
  std::optional<Err> error_;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}       // NOLINT: implicit by design
  Result(Status error) : v_(std::move(error)) {}  // NOLINT
  bool ok() const { return std::holds_alternative<T>(v_); }
  T& value() { return std::get<T>(v_); }
  const T& value() const { return std::get<T>(v_); }
  T* operator->() { return &value(); }
  T& operator*() { return value(); }
  const Status& status() const { return std::get<Status>(v_); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace streamrun
