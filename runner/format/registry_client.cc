#include "runner/format/registry_client.h"

#include <curl/curl.h>

#include <nlohmann/json.hpp>

namespace streamrun::format {

namespace {

size_t Collect(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

// The registry's error body is {"error_code": N, "message": "..."}.
std::string RegistryMessage(long status, const std::string& reply) {
  auto j = nlohmann::json::parse(reply, nullptr, false);
  std::string text = "HTTP " + std::to_string(status);
  if (j.is_object() && j.contains("message") && j["message"].is_string())
    text += ": " + j["message"].get<std::string>();
  if (j.is_object() && j.contains("error_code")) text += " (error code " + j["error_code"].dump() + ")";
  return text;
}

std::string Escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", static_cast<unsigned char>(c));
      out += buf;
    }
  }
  return out;
}

}  // namespace

bool RegistryClient::Call(const std::string& method, const std::string& path, const std::string& body,
                          long* status, std::string* reply, std::string* error) {
  CURL* curl = curl_easy_init();
  if (!curl) {
    *error = "cannot start an HTTP client";
    return false;
  }
  const std::string url = config_.url + path;
  curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, "Accept: application/vnd.schemaregistry.v1+json, application/json");
  if (method == "POST")
    headers = curl_slist_append(headers, "Content-Type: application/vnd.schemaregistry.v1+json");
  std::string bearer;
  if (!config_.token.empty()) {
    bearer = "Authorization: Bearer " + config_.token;
    headers = curl_slist_append(headers, bearer.c_str());
  }
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 30000L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, Collect);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, reply);
  if (!config_.username.empty()) {
    curl_easy_setopt(curl, CURLOPT_USERNAME, config_.username.c_str());
    curl_easy_setopt(curl, CURLOPT_PASSWORD, config_.password.c_str());
  }
  if (method == "POST") {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  }
  const CURLcode rc = curl_easy_perform(curl);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  if (rc != CURLE_OK) {
    *error = "schema registry " + config_.url + ": " + curl_easy_strerror(rc);
    return false;
  }
  return true;
}

bool RegistryClient::SchemaById(int32_t id, std::string* type, std::string* text, std::string* error) {
  std::lock_guard lock(mu_);
  auto it = by_id_.find(id);
  if (it != by_id_.end()) {
    *type = it->second.first;
    *text = it->second.second;
    return true;
  }
  long status = 0;
  std::string reply;
  if (!Call("GET", "/schemas/ids/" + std::to_string(id), "", &status, &reply, error)) return false;
  if (status != 200) {
    *error = "schema registry " + config_.url + " has no schema " + std::to_string(id) + ": " +
             RegistryMessage(status, reply);
    return false;
  }
  auto j = nlohmann::json::parse(reply, nullptr, false);
  if (!j.is_object() || !j.contains("schema") || !j["schema"].is_string()) {
    *error = "schema registry " + config_.url + ": schema " + std::to_string(id) + " is not a schema reply";
    return false;
  }
  *text = j["schema"].get<std::string>();
  *type =
      j.contains("schemaType") && j["schemaType"].is_string() ? j["schemaType"].get<std::string>() : "AVRO";
  by_id_[id] = {*type, *text};
  return true;
}

bool RegistryClient::Register(const std::string& subject, std::string_view type, const std::string& text,
                              int32_t* id, std::string* error) {
  nlohmann::json body = {{"schema", text}};
  if (type != "AVRO") body["schemaType"] = std::string(type);
  long status = 0;
  std::string reply;
  if (!Call("POST", "/subjects/" + Escape(subject) + "/versions", body.dump(), &status, &reply, error))
    return false;
  if (status != 200) {
    *error = "schema registry " + config_.url + " refused the schema for subject '" + subject +
             "': " + RegistryMessage(status, reply);
    return false;
  }
  auto j = nlohmann::json::parse(reply, nullptr, false);
  if (!j.is_object() || !j.contains("id") || !j["id"].is_number_integer()) {
    *error = "schema registry " + config_.url + ": no id in its reply for subject '" + subject + "'";
    return false;
  }
  *id = j["id"].get<int32_t>();
  std::lock_guard lock(mu_);
  by_id_[*id] = {std::string(type), text};
  return true;
}

}  // namespace streamrun::format
