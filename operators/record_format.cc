#include "operators/record_format.h"

namespace streamrun {

using format::RecordFormat;

std::string RecordFormatOptions::Describe() const {
  std::string d(format::FormatName(format));
  if (schema) d += " (" + schema->Describe() + ")";
  if (registry) d += ", registry " + registry->config().url + (subject.empty() ? "" : " subject " + subject);
  return d;
}

std::vector<config::FieldSpec> RecordFormatFields(const std::vector<std::string>& formats, bool registry,
                                                  const std::string& format_help) {
  using namespace config;
  std::vector<FieldSpec> fields = {
      Default(Enum("format", formats, format_help), "json"),
      Str("schema",
          "protobuf: the .proto file; avro: the .avsc file; json on a Kafka sink with a registry: the JSON "
          "Schema file it registers. Relative to the working directory."),
      Str("message", "protobuf: the message type's full name (default: the file's first message)."),
  };
  if (registry) {
    FieldSpec reg =
        Obj("registry",
            {Required(Str("url", "The registry's base URL, e.g. http://localhost:8081.")),
             Str("subject", "The subject a sink registers its schema under (default <topic>-value)."),
             Obj("auth",
                 {Str("username", "Basic auth user."), Str("password", "Basic auth password."),
                  Str("token", "Bearer token.")},
                 "Credentials for the registry.")},
            "Confluent schema-registry framing: magic byte 0, the schema id, and for protobuf "
            "the message indexes. A source reads each writer's schema by its id; a sink "
            "registers its schema at start.");
    reg.example = "registry: { url: \"http://localhost:8081\" }";
    fields.push_back(reg);
  }
  return fields;
}

bool ParseRecordFormat(const config::Options& options, PlanContext& ctx, bool sink, const std::string& topic,
                       RecordFormatOptions* out) {
  if (!options.Declares("format")) return true;  // a source with one format (generate)
  const std::string name = options.Enum("format");
  out->format = name == "csv"        ? RecordFormat::kCsv
                : name == "raw"      ? RecordFormat::kRaw
                : name == "protobuf" ? RecordFormat::kProtobuf
                : name == "avro"     ? RecordFormat::kAvro
                                     : RecordFormat::kJson;
  const std::string schema_path = options.String("schema");
  const std::string message = options.String("message");
  // An empty value is no value, so one file serves both ways through
  // `${VAR:-}` (e.g. `schema: ${SCHEMA:-}` with `format: ${FORMAT:-json}`).
  const config::ConfNode* schema_node =
      options.Has("schema") && !schema_path.empty() ? options.Node("schema") : nullptr;
  const config::ConfNode* message_node =
      options.Has("message") && !message.empty() ? options.Node("message") : nullptr;
  // Every option is read, written or not (the plan's read log).
  format::RegistryConfig rc;
  if (options.Declares("registry")) {
    const config::Options r = options.Object("registry");
    rc.url = r.String("url");
    rc.subject = r.String("subject");
    const config::Options a = r.Object("auth");
    rc.username = a.String("username");
    rc.password = a.String("password");
    rc.token = a.String("token");
  }
  const bool has_registry = options.Declares("registry") && options.Has("registry") && !rc.url.empty();
  // Where a missing option is reported: at `format:`, else at `registry:`.
  const config::ConfNode* format_node = options.Node("format");
  if (!format_node && has_registry) format_node = options.Node("registry");
  const config::Mark at = format_node ? format_node->mark : config::Mark{};
  if (has_registry) {
    while (!rc.url.empty() && rc.url.back() == '/') rc.url.pop_back();
    if (rc.url.rfind("http://", 0) != 0 && rc.url.rfind("https://", 0) != 0) {
      ctx.Error(options.Object("registry").Node("url")->mark,
                "registry.url must start with http:// or https://");
      return false;
    }
    out->subject = rc.subject.empty() ? topic + "-value" : rc.subject;
    if (out->format == RecordFormat::kCsv || out->format == RecordFormat::kRaw) {
      ctx.Error(at, "registry framing is for json, protobuf and avro, not " + name);
      return false;
    }
    out->registry = std::make_shared<format::RegistryClient>(rc);
  }
  if (message_node && out->format != RecordFormat::kProtobuf) {
    ctx.Error(message_node->mark, "message applies to format: protobuf only");
    return false;
  }
  if (schema_node && !out->binary() && !(sink && has_registry && out->format == RecordFormat::kJson)) {
    ctx.Error(schema_node->mark, "schema applies to format: protobuf or avro" +
                                     std::string(sink ? " (or json with a registry on a Kafka sink)" : ""));
    return false;
  }
  const bool needs_schema = out->binary() ? (sink || !has_registry) : (sink && has_registry);
  if (needs_schema && !schema_node) {
    ctx.Error(at,
              "format: " + name + " needs schema: PATH" +
                  std::string(out->binary() && !sink ? " (or registry: to read each writer's schema)" : ""));
    return false;
  }
  if (!schema_node) return true;
  std::string error;
  const std::string& path = schema_path;
  if (out->format == RecordFormat::kProtobuf) {
    out->schema = format::LoadProtobufSchema(path, message, &error);
  } else if (out->format == RecordFormat::kAvro) {
    out->schema = format::LoadAvroSchema(path, &error);
  } else {
    out->schema = format::LoadJsonSchema(path, &error);
  }
  if (!out->schema) {
    ctx.Error(schema_node->mark, error);
    return false;
  }
  return true;
}

}  // namespace streamrun
