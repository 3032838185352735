// Decode and encode speed of each record format on the same events
// (docs/benchmarks.md, "Formats"). Not a test: it prints figures.
//
//   format_bench [KIND] [COUNT] [SCHEMAS_DIR]
//
// The events come from the generator; each format's records are made once,
// then decoded as a source decodes them (into a batch, the projection being
// the fields the clickstream job reads: page_url and ts) and encoded as a sink
// encodes them (from the record's JSON text). Each figure is the best of 3.
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "runner/format/codec.h"
#include "runner/generate/generators.h"
#include "runner/record/batch.h"
#include "runner/record/csv.h"
#include "runner/record/json_decoder.h"

using namespace streamrun;

namespace {

double Seconds(const std::chrono::steady_clock::time_point& since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

template <typename F>
double BestRate(size_t records, F&& run) {
  double best = 0;
  for (int k = 0; k < 3; ++k) {
    const auto t0 = std::chrono::steady_clock::now();
    run();
    best = std::max(best, static_cast<double>(records) / Seconds(t0));
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string kind = argc > 1 ? argv[1] : "clicks";
  const size_t count = argc > 2 ? std::stoul(argv[2]) : 1000000;
  const std::string dir = argc > 3 ? argv[3] : "schemas";
  const std::string only = argc > 4 ? argv[4] : "";  // one format's figures only
  auto wanted = [&](const std::string& f) { return only.empty() || only == f; };
  generate::Options options;
  options.kind = kind;
  options.count = static_cast<int64_t>(count);
  std::string error;
  auto gen = generate::Make(options, &error);
  if (!gen) {
    std::fprintf(stderr, "%s\n", error.c_str());
    return 2;
  }
  std::vector<std::string> json;
  std::string event;
  int64_t t;
  while (event.clear(), gen->Next(&event, &t)) json.push_back(event);

  ProjectionNode projection;
  projection.At({"ts"}).slot = 0;
  projection.At({kind == "clicks" ? "page_url" : kind == "transactions" ? "card_id" : "user_id"}).slot = 1;
  const uint32_t width = 2;

  std::printf("%-9s %12s %12s %10s\n", "format", "decode/s", "encode/s", "bytes/rec");
  // JSON: the line is copied into the batch with padding and its projected fields read.
  if (wanted("json")) {
    JsonDecoder decoder(projection);
    size_t bytes = 0;
    for (const auto& j : json) bytes += j.size() + 1;
    Batch batch(width);
    const double decode = BestRate(json.size(), [&] {
      for (size_t i = 0; i < json.size(); ++i) {
        if (batch.size() == kDefaultBatchSize) batch.Clear(width);
        std::string_view raw = batch.arena().Copy(json[i], JsonPadding());
        const uint32_t row = batch.AddRow(raw, {});
        if (!decoder.Decode(raw, batch.row(row), batch.arena(), &error)) std::abort();
      }
    });
    std::string out;
    const double encode = BestRate(json.size(), [&] {
      for (const auto& j : json) {
        out.clear();
        out.append(j);  // an untouched record is written as its own text
        out.push_back('\n');
      }
    });
    std::printf("%-9s %12.0f %12.0f %10.1f\n", "json", decode, encode,
                static_cast<double>(bytes) / json.size());
  }
  // CSV: each line is turned into the record's JSON text, then read as JSON.
  if (wanted("csv")) {
    std::vector<std::string> header, lines;
    {
      auto j = json.front();
      // The header is the first event's field names, in order.
      size_t p = 0;
      while ((p = j.find("\":", p)) != std::string::npos) {
        size_t q = j.rfind('"', p - 1);
        header.push_back(j.substr(q + 1, p - q - 1));
        p += 2;
      }
    }
    JsonDecoder decoder(projection);
    std::string text, line;
    std::vector<std::string> cells;
    // CSV lines written from the events' JSON text (strings quoted).
    for (const auto& j : json) {
      line.clear();
      size_t p = 0;
      bool first = true;
      while ((p = j.find("\":", p)) != std::string::npos) {
        p += 2;
        size_t e = p;
        if (j[p] == '"') {
          e = j.find('"', p + 1) + 1;
        } else {
          while (e < j.size() && j[e] != ',' && j[e] != '}') ++e;
        }
        if (!first) line.push_back(',');
        first = false;
        const std::string v = j.substr(p, e - p);
        if (v != "null") line += v;
        p = e;
      }
      lines.push_back(line);
    }
    size_t bytes = 0;
    for (const auto& l : lines) bytes += l.size() + 1;
    Batch batch(width);
    const double decode = BestRate(lines.size(), [&] {
      for (const auto& l : lines) {
        if (batch.size() == kDefaultBatchSize) batch.Clear(width);
        text.clear();
        if (!CsvToJson(header, l, &text, &error)) std::abort();
        std::string_view raw = batch.arena().Copy(text, JsonPadding());
        const uint32_t row = batch.AddRow(raw, {});
        if (!decoder.Decode(raw, batch.row(row), batch.arena(), &error)) std::abort();
      }
    });
    // Encoding: each record's JSON text written as a CSV line.
    std::vector<std::string> padded(json.size());
    for (size_t i = 0; i < json.size(); ++i) {
      padded[i] = json[i];
      padded[i].reserve(json[i].size() + JsonPadding());
    }
    std::string out;
    const double encode = BestRate(json.size(), [&] {
      CsvWriter writer;
      for (const auto& j : padded) {
        out.clear();
        if (!writer.Append(j, &out, &error)) std::abort();
      }
    });
    std::printf("%-9s %12.0f %12.0f %10.1f\n", "csv", decode, encode,
                static_cast<double>(bytes) / lines.size());
  }
  // Protobuf and Avro: the encoder makes the records from the JSON text; the
  // decoder writes the record's text and its projected fields in one pass.
  for (const char* name : {"protobuf", "avro"}) {
    if (!wanted(name)) continue;
    const bool pb = std::string(name) == "protobuf";
    const std::string path = dir + "/" + kind + (pb ? ".proto" : ".avsc");
    auto schema = pb ? format::LoadProtobufSchema(path, "", &error) : format::LoadAvroSchema(path, &error);
    if (!schema) {
      std::printf("%-9s %s\n", name, error.c_str());
      continue;
    }
    auto encoder = schema->NewEncoder();
    std::vector<std::string> records(json.size());
    std::vector<std::string> padded(json.size());
    for (size_t i = 0; i < json.size(); ++i) {
      padded[i] = json[i];
      padded[i].reserve(json[i].size() + 64);
    }
    std::string out;
    const double encode = BestRate(json.size(), [&] {
      for (size_t i = 0; i < json.size(); ++i) {
        out.clear();
        if (!encoder->Encode(padded[i], &out, &error)) {
          std::fprintf(stderr, "%s: %s\n", name, error.c_str());
          std::abort();
        }
      }
    });
    size_t bytes = 0;
    for (size_t i = 0; i < json.size(); ++i) {
      encoder->Encode(padded[i], &records[i], &error);
      bytes += records[i].size() + 1;
    }
    auto decoder = schema->NewDecoder(projection);
    Batch batch(width);
    // As a source reads: the bytes kept in the batch, the projected fields decoded.
    const double decode = BestRate(records.size(), [&] {
      for (const auto& r : records) {
        if (batch.size() == kDefaultBatchSize) batch.Clear(width);
        const std::string_view bytes = batch.arena().Copy(r);
        const uint32_t row = batch.AddRow({}, {});
        if (!decoder->DecodeSlots(bytes, batch.row(row), batch.arena(), &error)) std::abort();
      }
    });
    // The whole record's JSON text as well (a sink writing it as JSON).
    format::RecordBuilder builder;
    const double text = BestRate(records.size(), [&] {
      for (const auto& r : records) {
        if (batch.size() == kDefaultBatchSize) batch.Clear(width);
        builder.Reset();
        const uint32_t row = batch.AddRow({}, {});
        if (!decoder->Decode(r, builder, &error)) std::abort();
        batch.set_raw(row, builder.Finish(batch.row(row), batch.arena()));
      }
    });
    std::printf("%-9s %12.0f %12.0f %10.1f   (with the whole JSON text: %.0f/s)\n", name, decode, encode,
                static_cast<double>(bytes) / records.size(), text);
  }
  return 0;
}
