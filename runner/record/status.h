#pragma once
// The one shape of an error: a kind (whose fault it is) and a message.
// Expected failures travel as values (Status, Result; STYLE.md: exceptions
// only for errors that end the run); an error that ends the run is thrown as
// Error, and keeps its kind on the way up, so the command that ran it can say
// what kind of failure it was and exit with the right status.
#include <optional>
#include <stdexcept>
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

// "configuration", "record", "external", "internal".
inline const char* ErrorKindName(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kConfig:
      return "configuration";
    case ErrorKind::kRecord:
      return "record";
    case ErrorKind::kExternal:
      return "external";
    case ErrorKind::kInternal:
      return "internal";
  }
  return "?";
}

// An error that ends the run, thrown from where it happened to where the run
// ends, with its kind.
class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  ErrorKind kind() const { return kind_; }

 private:
  ErrorKind kind_;
};

// A system we talk to failed or gave us something we cannot use: a file, a
// broker, the checkpoint store, a damaged checkpoint.
inline Error ExternalError(const std::string& message) { return Error(ErrorKind::kExternal, message); }
// Our bug: a state the code should never reach.
inline Error InternalError(const std::string& message) { return Error(ErrorKind::kInternal, message); }

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
