#pragma once
// A client of a Confluent-compatible schema registry (docs/formats.md): schemas
// fetched by id, once each, and a sink's schema registered (or found) under its
// subject. Thread-safe: one client serves every instance of a source or sink.
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "runner/format/codec.h"

namespace streamrun::format {

class RegistryClient {
 public:
  explicit RegistryClient(RegistryConfig config) : config_(std::move(config)) {}

  const RegistryConfig& config() const { return config_; }

  // The schema the registry holds under `id`: its schemaType (AVRO when the
  // registry leaves it out) and text. False with the registry's own message.
  bool SchemaById(int32_t id, std::string* type, std::string* text, std::string* error);

  // Registers `text` of `type` under `subject` (the registry returns the
  // existing id when the same schema is there already).
  bool Register(const std::string& subject, std::string_view type, const std::string& text, int32_t* id,
                std::string* error);

 private:
  // One HTTP exchange; the status in *status, the body in *body.
  bool Call(const std::string& method, const std::string& path, const std::string& body, long* status,
            std::string* reply, std::string* error);

  RegistryConfig config_;
  std::mutex mu_;
  std::map<int32_t, std::pair<std::string, std::string>> by_id_;
};

}  // namespace streamrun::format
