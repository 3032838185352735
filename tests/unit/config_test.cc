// Configuration: loader, durations, diagnostics, spec-driven validation, generation.
#include <doctest/doctest.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <string>

#include "runner/config/diagnostics.h"
#include "runner/config/duration.h"
#include "runner/config/loader.h"
#include "runner/config/spec.h"
#include "runner/config/validate.h"

using namespace streamrun::config;

namespace {

EnvLookup FakeEnv(std::map<std::string, std::string> vars) {
  return [vars](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

ConfNode Load(const std::string& text, Diagnostics& diags, std::map<std::string, std::string> env = {}) {
  auto node = LoadYamlText(text, "p.yaml", FakeEnv(std::move(env)), diags);
  REQUIRE(node.has_value());
  return *node;
}

ConfNode LoadClean(const std::string& text) {
  Diagnostics diags;
  ConfNode n = Load(text, diags);
  REQUIRE_MESSAGE(diags.empty(), diags.ToString());
  return n;
}

bool Has(const Diagnostics& d, const std::string& text) {
  return d.ToString().find(text) != std::string::npos;
}

// Diagnostic whose message contains `text`; fails the test when absent.
const Diagnostic& Find(const Diagnostics& d, const std::string& text) {
  for (const auto& diag : d.list())
    if (diag.message.find(text) != std::string::npos) return diag;
  FAIL("no diagnostic containing '" << text << "' in:\n" << d.ToString());
  static Diagnostic none;
  return none;
}

class FakeCatalog : public ComponentCatalog {
 public:
  FakeCatalog() {
    Add(ComponentKind::kSource, "file",
        Obj("",
            {Required(Str("path", "File or glob.")),
             Default(Enum("format", {"json", "csv"}, "Record format."), "json"),
             Bool("bounded", "Stop at the end.")},
            ""),
        "in:\n  type: file\n  path: in.jsonl\n");
    Add(ComponentKind::kSource, "kafka",
        Obj("", {Required(Str("topic", "Topic.")), Str("brokers", "Bootstrap servers.")}, ""), "");
    Add(ComponentKind::kStep, "filter", Expr("", "Keep records where it holds."), "- filter: x > 1");
    Add(ComponentKind::kStep, "key_by",
        OneOf("", {Field("", "a key field"), ListOf("", Field("", "a key field"), "key fields")},
              "Partition by key."),
        "");
    Add(ComponentKind::kStep, "window",
        Obj("",
            {Dur("tumbling", "Window size."), Dur("sliding", "Window size."), Dur("slide", "Slide."),
             Dur("session", "Gap."), Default(Dur("allowed_lateness", "Lateness."), "0s"),
             MapOf("aggregate", Expr("", "aggregate"), "Aggregates."), Expr("having", "Row filter."),
             OneOf("emit",
                   {Enum("", {"on_close", "on_update"}, ""), Obj("", {Required(Dur("every", "period"))}, "")},
                   "When to emit.")},
            ""),
        "", /*late_output=*/true);
    Add(ComponentKind::kSink, "stdout",
        Obj("", {Default(Enum("format", {"json", "table"}, "Output format."), "json")}, ""), "");
    Add(ComponentKind::kSink, "file", Obj("", {Required(Str("path", "Output path."))}, ""), "");
  }
  const ComponentSpec* Find(ComponentKind kind, const std::string& name) const override {
    for (const auto& c : specs_)
      if (c.kind == kind && c.name == name) return &c;
    return nullptr;
  }
  std::vector<const ComponentSpec*> All(ComponentKind kind) const override {
    std::vector<const ComponentSpec*> out;
    for (const auto& c : specs_)
      if (c.kind == kind) out.push_back(&c);
    return out;
  }

 private:
  void Add(ComponentKind kind, std::string name, FieldSpec value, std::string example,
           bool late_output = false) {
    ComponentSpec c;
    c.late_output = late_output;
    c.kind = kind;
    c.name = name;
    c.summary = "The " + name + " component.";
    c.description = "Longer text about " + name + ".";
    c.value = std::move(value);
    c.example = std::move(example);
    specs_.push_back(std::move(c));
  }
  std::vector<ComponentSpec> specs_;
};

class EmptyCatalog : public ComponentCatalog {
 public:
  const ComponentSpec* Find(ComponentKind, const std::string&) const override { return nullptr; }
  std::vector<const ComponentSpec*> All(ComponentKind) const override { return {}; }
};

Diagnostics ValidateText(const std::string& text) {
  Diagnostics diags;
  ConfNode root = Load(text, diags);
  FakeCatalog catalog;
  ValidatePipeline(root, catalog, diags);
  return diags;
}

Diagnostics Check(const std::string& yaml, const FieldSpec& spec) {
  Diagnostics diags;
  ConfNode n = Load(yaml, diags);
  REQUIRE(diags.empty());
  ValidateValue(n, spec, "test", diags);
  return diags;
}

const char* kValid = R"(name: clicks-top.10
runtime:
  parallelism: 2
  checkpoint: {interval: 10s, storage: file://ckpt}
  errors: {policy: dead_letter, sink: bad}
sources:
  clicks:
    type: file
    path: in.jsonl
transforms:
  counts:
    input: clicks
    steps:
      - filter: "page is not null"
      - key_by: page
      - window:
          tumbling: 5s
          aggregate: {n: count()}
          emit: {every: 1s}
  late_counts:
    input: counts.late
    steps:
      - key_by: [page, user]
sinks:
  screen:
    type: stdout
    inputs: [counts, late_counts]
  bad:
    type: file
    path: bad.jsonl
)";

}  // namespace

// ---------------------------------------------------------------------------

TEST_CASE("Diagnostic formatting") {
  Diagnostic d{Mark{"p.yaml", 3, 7}, "unknown key 'tumblng' in window", "did you mean 'tumbling'?"};
  CHECK(d.ToString() == "p.yaml:3:7: error: unknown key 'tumblng' in window (did you mean 'tumbling'?)");
  d.hint.clear();
  CHECK(d.ToString() == "p.yaml:3:7: error: unknown key 'tumblng' in window");
  d.mark.file.clear();
  CHECK(d.ToString() == "3:7: error: unknown key 'tumblng' in window");
  Diagnostic unreadable{Mark{"x.yaml", 0, 0}, "cannot read pipeline file: x.yaml", ""};
  CHECK(unreadable.ToString() == "x.yaml: error: cannot read pipeline file: x.yaml");

  Diagnostics all;
  all.Add(Mark{"b.yaml", 1, 1}, "four");
  all.Add(Mark{"a.yaml", 9, 2}, "three");
  all.Add(Mark{"a.yaml", 2, 5}, "two");
  all.Add(Mark{"a.yaml", 2, 1}, "one");
  CHECK(all.ToString() ==
        "a.yaml:2:1: error: one\na.yaml:2:5: error: two\na.yaml:9:2: error: three\n"
        "b.yaml:1:1: error: four\n");
}

TEST_CASE("NearestName") {
  std::vector<std::string> keys = {"tumbling", "sliding", "slide", "session"};
  CHECK(NearestName("tumblng", keys) == "tumbling");
  CHECK(NearestName("TUMBLING", keys) == "tumbling");
  CHECK(NearestName("slid", keys) == "slide");
  CHECK(NearestName("abcx", {"abcd", "abce"}) == "abcd");  // a tie: first in list wins
  CHECK(NearestName("sesion", keys) == "session");
  CHECK(NearestName("watermark", keys).empty());
  CHECK(NearestName("x", {"y"}) == "y");  // threshold is at least 1
  CHECK(NearestName("ab", {"xy"}).empty());
  CHECK(NearestName("abc", {}).empty());
  CHECK(NearestName("soruces", {"name", "sources", "sinks"}) == "sources");
}

TEST_CASE("sizes: bytes, KB/MB/GB as powers of 1024, and what is not a size") {
  CHECK(ParseByteSize("1048576") == 1048576u);
  CHECK(ParseByteSize("512KB") == 512u * 1024);
  CHECK(ParseByteSize("256MB") == 256ull << 20);
  CHECK(ParseByteSize("64MiB") == 64ull << 20);
  CHECK(ParseByteSize("2GB") == 2ull << 30);
  CHECK(ParseByteSize("0") == 0u);
  CHECK_FALSE(ParseByteSize(""));
  CHECK_FALSE(ParseByteSize("MB"));
  CHECK_FALSE(ParseByteSize("12 parsecs"));
  CHECK_FALSE(ParseByteSize("-5MB"));
  CHECK_FALSE(ParseByteSize("99999999999999999999GB"));
  CHECK_FALSE(ParseByteSize("100000000TB"));  // fits before the unit, not after
}

TEST_CASE("durations") {
  CHECK(ParseDurationMs("250ms") == 250);
  CHECK(ParseDurationMs("5s") == 5000);
  CHECK(ParseDurationMs("30m") == 1800000);
  CHECK(ParseDurationMs("1h") == 3600000);
  CHECK(ParseDurationMs("1d") == 86400000);
  CHECK(ParseDurationMs("1h30m") == 5400000);
  CHECK(ParseDurationMs("1m30s500ms") == 90500);
  CHECK(ParseDurationMs("1.5s") == 1500);
  CHECK(ParseDurationMs("0.25s") == 250);
  CHECK(ParseDurationMs("0") == 0);
  CHECK(ParseDurationMs("0s") == 0);
  CHECK(ParseDurationMs(" 5s ") == 5000);
  CHECK_FALSE(ParseDurationMs(""));
  CHECK_FALSE(ParseDurationMs("-5s"));
  CHECK_FALSE(ParseDurationMs("5"));
  CHECK_FALSE(ParseDurationMs("5x"));
  CHECK_FALSE(ParseDurationMs("s"));
  CHECK_FALSE(ParseDurationMs("5 s"));
  CHECK_FALSE(ParseDurationMs("1.s"));
  CHECK_FALSE(ParseDurationMs(".5s"));
  CHECK_FALSE(ParseDurationMs("1.5ms"));  // not whole milliseconds
  CHECK_FALSE(ParseDurationMs("99999999999999999999d"));
  CHECK_FALSE(ParseDurationMs("9223372036854775807s"));
  CHECK(ParseDurationMs("9223372036854775807ms") == INT64_MAX);

  CHECK(FormatDurationMs(5000) == "5s");
  CHECK(FormatDurationMs(90000) == "1m30s");
  CHECK(FormatDurationMs(250) == "250ms");
  CHECK(FormatDurationMs(0) == "0s");
  CHECK(FormatDurationMs(86400000 + 3600000) == "1d1h");
  CHECK(FormatDurationMs(-1500) == "-1s500ms");
  for (int64_t ms : {1, 999, 1000, 61001, 5400000, 123456789})
    CHECK(ParseDurationMs(FormatDurationMs(ms)) == ms);
}

TEST_CASE("rates") {
  CHECK(ParseRatePerSecond("2000/s") == doctest::Approx(2000));
  CHECK(ParseRatePerSecond("100/ms") == doctest::Approx(100000));
  CHECK(ParseRatePerSecond("5/m") == doctest::Approx(5.0 / 60));
  CHECK(ParseRatePerSecond("10/h") == doctest::Approx(10.0 / 3600));
  CHECK(ParseRatePerSecond("2.5/s") == doctest::Approx(2.5));
  CHECK_FALSE(ParseRatePerSecond("2000"));
  CHECK_FALSE(ParseRatePerSecond("/s"));
  CHECK_FALSE(ParseRatePerSecond("-5/s"));
  CHECK_FALSE(ParseRatePerSecond("0/s"));
  CHECK_FALSE(ParseRatePerSecond("5/x"));
  CHECK_FALSE(ParseRatePerSecond("abc/s"));
  CHECK_FALSE(ParseRatePerSecond(""));
}

// ---------------------------------------------------------------------------
// Loader.

TEST_CASE("loader: tree and 1-based marks") {
  ConfNode root = LoadClean("name: x\nsources:\n  a:\n    type: file\nlist: [1, two]\nempty:\ntilde: ~\n");
  REQUIRE(root.IsMap());
  CHECK(root.mark.file == "p.yaml");
  REQUIRE(root.entries.size() == 5);
  CHECK(root.entries[0].first.scalar == "name");
  CHECK(root.entries[0].first.mark.line == 1);
  CHECK(root.entries[0].first.mark.column == 1);
  CHECK(root.Find("name")->mark.column == 7);
  const ConfNode* type = root.Find("sources")->Find("a")->Find("type");
  REQUIRE(type != nullptr);
  CHECK(type->scalar == "file");
  CHECK(type->mark.line == 4);
  CHECK(type->mark.column == 11);
  CHECK(root.Find("sources")->KeyMark("a").line == 3);
  CHECK(root.Find("sources")->KeyMark("a").column == 3);
  const ConfNode* list = root.Find("list");
  REQUIRE(list->IsSequence());
  REQUIRE(list->items.size() == 2);
  CHECK(list->items[1].scalar == "two");
  CHECK(list->items[1].mark.line == 5);
  CHECK(list->items[1].mark.column == 11);
  CHECK(root.Find("empty")->IsNull());
  CHECK(root.Find("empty")->mark.line == 6);  // at its key, not at the next line
  CHECK(root.Find("tilde")->IsNull());
  CHECK(root.Find("tilde")->mark.column == 8);
}

TEST_CASE("loader: quoted scalars and text_column") {
  ConfNode root = LoadClean("a: \"x > 1\"\nb:   'y'\nc: plain\nd: \"null\"\ne: |\n  block\n");
  const ConfNode* a = root.Find("a");
  CHECK(a->quoted);
  CHECK(a->scalar == "x > 1");
  CHECK(a->mark.column == 4);
  CHECK(a->text_column == 5);
  const ConfNode* b = root.Find("b");
  CHECK(b->quoted);
  CHECK(b->text_column == 7);
  const ConfNode* c = root.Find("c");
  CHECK_FALSE(c->quoted);
  CHECK(c->text_column == 4);
  CHECK(root.Find("d")->IsScalar());  // a quoted "null" is a string
  CHECK(root.Find("d")->scalar == "null");
  CHECK_FALSE(root.Find("e")->quoted);
  CHECK(root.Find("e")->scalar == "block\n");
}

TEST_CASE("loader: environment interpolation") {
  Diagnostics diags;
  ConfNode root = Load(
      "a: ${HOST}\n"
      "b: ${PORT:-9092}\n"
      "c: ${HOST}:${PORT:-1}/x\n"
      "d: \"$${HOST} stays\"\n"
      "e: ${EMPTY:-fallback}\n"
      "f: ${EMPTY}\n"
      "${KEYVAR}: 1\n",
      diags, {{"HOST", "kafka"}, {"EMPTY", ""}, {"KEYVAR", "k"}});
  CHECK_MESSAGE(diags.empty(), diags.ToString());
  CHECK(root.Find("a")->scalar == "kafka");
  CHECK(root.Find("b")->scalar == "9092");
  CHECK(root.Find("c")->scalar == "kafka:1/x");
  CHECK(root.Find("d")->scalar == "${HOST} stays");
  CHECK(root.Find("e")->scalar == "fallback");
  CHECK(root.Find("f")->scalar == "");
  CHECK(root.Find("k") != nullptr);
}

TEST_CASE("loader: unset variable without default") {
  Diagnostics diags;
  ConfNode root = Load("name: x\nsources:\n  in:\n    brokers: ${KAFKA_BROKERS}\n", diags);
  REQUIRE(diags.size() == 1);
  const Diagnostic& d = diags.list()[0];
  CHECK(d.message == "environment variable 'KAFKA_BROKERS' is not set");
  CHECK(d.hint == "set it or write ${KAFKA_BROKERS:-default}");
  CHECK(d.mark.line == 4);
  CHECK(d.mark.column == 14);
  CHECK(d.ToString().rfind("p.yaml:4:14: error: environment variable", 0) == 0);

  Diagnostics bad;
  Load("a: ${NOT CLOSED\nb: ${1X}\n", bad);
  CHECK(bad.size() == 2);
  CHECK(Has(bad, "unterminated"));
  CHECK(Has(bad, "invalid environment variable reference"));
}

TEST_CASE("loader: duplicate keys") {
  Diagnostics diags;
  ConfNode root = Load("a: 1\nb:\n  x: 1\n  x: 2\na: 3\n", diags);
  REQUIRE(diags.size() == 2);
  const Diagnostic& inner = Find(diags, "duplicate key 'x'");
  CHECK(inner.mark.line == 4);
  CHECK(inner.mark.column == 3);
  CHECK(inner.hint == "first defined at line 3");
  const Diagnostic& outer = Find(diags, "duplicate key 'a'");
  CHECK(outer.mark.line == 5);
  CHECK(root.Find("a")->scalar == "1");
}

TEST_CASE("loader: syntax errors") {
  Diagnostics diags;
  auto node = LoadYamlText("name: x\nsources: [a, b\nsinks: {}\n", "p.yaml", FakeEnv({}), diags);
  CHECK_FALSE(node.has_value());
  REQUIRE(diags.size() == 1);
  CHECK(Has(diags, "YAML syntax error"));
  CHECK(diags.list()[0].mark.line >= 2);
  CHECK(diags.list()[0].mark.file == "p.yaml");

  Diagnostics d2;
  CHECK_FALSE(LoadYamlText("a: b: c\n", "p.yaml", FakeEnv({}), d2).has_value());
  REQUIRE(d2.size() == 1);
  CHECK(d2.list()[0].mark.line == 1);
  CHECK(d2.list()[0].mark.column == 5);
  CHECK(d2.list()[0].message == "YAML syntax error: illegal map value");
}

TEST_CASE("loader: hostile input") {
  SUBCASE("empty text is a null document") {
    Diagnostics diags;
    auto n = LoadYamlText("", "p.yaml", FakeEnv({}), diags);
    REQUIRE(n.has_value());
    CHECK(n->IsNull());
    CHECK(diags.empty());
  }
  SUBCASE("deep flow nesting") {
    Diagnostics diags;
    LoadYamlText(std::string(100000, '['), "p.yaml", FakeEnv({}), diags);
    CHECK_FALSE(diags.empty());
  }
  SUBCASE("nesting beyond 64 levels") {
    Diagnostics diags;
    auto n = LoadYamlText(std::string(100, '[') + std::string(100, ']'), "p.yaml", FakeEnv({}), diags);
    CHECK(Has(diags, "nesting deeper than 64 levels"));
    Diagnostics ok;
    LoadYamlText(std::string(60, '[') + std::string(60, ']'), "p.yaml", FakeEnv({}), ok);
    CHECK(ok.empty());
  }
  SUBCASE("recursive alias") {
    Diagnostics diags;
    LoadYamlText("a: &x [*x]\n", "p.yaml", FakeEnv({}), diags);
    CHECK_FALSE(diags.empty());
  }
  SUBCASE("alias expansion bomb") {
    std::string text = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
    char prev = 'a';
    for (char c = 'b'; c <= 'i'; ++c) {
      text += std::string(1, c) + ": &" + c + " [";
      for (int i = 0; i < 10; ++i) text += std::string(i ? ", *" : "*") + prev;
      text += "]\n";
      prev = c;
    }
    Diagnostics diags;
    LoadYamlText(text, "p.yaml", FakeEnv({}), diags);
    CHECK(Has(diags, "too large"));
  }
  SUBCASE("stray comma at document level (yaml-cpp 0.7 LoadAll would loop)") {
    for (const char* text : {",", "- a\n,\n", "{a: 1},"}) {
      Diagnostics diags;
      CHECK_FALSE(LoadYamlText(text, "p.yaml", FakeEnv({}), diags).has_value());
      CHECK(Has(diags, "YAML syntax error: unexpected ','"));
    }
    Diagnostics diags;
    LoadYamlText("- a\n,\n", "p.yaml", FakeEnv({}), diags);
    REQUIRE(diags.size() == 1);
    CHECK(diags.list()[0].mark.line == 2);
    CHECK(diags.list()[0].mark.column == 1);
  }
  SUBCASE("several documents") {
    Diagnostics diags;
    auto n = LoadYamlText("a: 1\n---\nb: 2\n", "p.yaml", FakeEnv({}), diags);
    REQUIRE(n.has_value());
    CHECK(Has(diags, "single YAML document"));
  }
}

TEST_CASE("loader: files") {
  Diagnostics diags;
  CHECK_FALSE(LoadYamlFile("/nonexistent/p.yaml", FakeEnv({}), diags).has_value());
  REQUIRE(diags.size() == 1);
  CHECK(diags.list()[0].message.rfind("cannot read pipeline file: /nonexistent/p.yaml", 0) == 0);
  CHECK(diags.list()[0].mark.line == 0);

  std::string path = "/tmp/streamrun_config_test.yaml";
  {
    std::ofstream out(path);
    out << "name: ${N:-dflt}\n";
  }
  Diagnostics d2;
  auto n = LoadYamlFile(path, ProcessEnv(), d2);
  REQUIRE(n.has_value());
  CHECK(d2.empty());
  CHECK(n->Find("name")->mark.file == path);
  std::remove(path.c_str());
}

// ---------------------------------------------------------------------------
// ValidateValue.

TEST_CASE("ValidateValue: scalars") {
  CHECK(Check("42", Int("n", "")).empty());
  CHECK(Check("-7", Int("n", "")).empty());
  CHECK(Has(Check("4.2", Int("n", "")), "'4.2' is not an integer"));
  CHECK(Has(Check("99999999999999999999", Int("n", "")), "is not an integer"));
  CHECK(Check("4.5e3", Num("n", "")).empty());
  CHECK(Has(Check("abc", Num("n", "")), "'abc' is not a number"));
  CHECK(Check("true", Bool("b", "")).empty());
  CHECK(Check("false", Bool("b", "")).empty());
  CHECK(Has(Check("yes", Bool("b", "")), "expected true or false, got 'yes'"));
  CHECK(Check("1h30m", Dur("d", "")).empty());
  Diagnostics dur = Check("5x", Dur("d", ""));
  REQUIRE(dur.size() == 1);
  CHECK(dur.list()[0].message == "test: '5x' is not a duration (expected e.g. 250ms, 5s, 30m, 1h)");
  CHECK(dur.list()[0].mark.line == 1);
  CHECK(dur.list()[0].mark.column == 1);
  CHECK(Check("5", Dur("d", "")).list().at(0).hint == "add a unit, e.g. '5s' or '5ms'");
  CHECK(Check("2000/s", Rate("r", "")).empty());
  CHECK(Has(Check("fast", Rate("r", "")), "'fast' is not a rate"));
  CHECK(Check("\"a > 1 and b\"", Expr("e", "")).empty());
  CHECK(Has(Check("\"\"", Expr("e", "")), "expected an expression, got an empty string"));
  CHECK(Has(Check("[a]", Expr("e", "")), "expected an expression, got a list"));
  CHECK(Check("a.b_c.d1", Field("f", "")).empty());
  CHECK(Check("\"a.`odd name`.c\"", Field("f", "")).empty());
  CHECK(Has(Check("a b", Field("f", "")), "'a b' is not a field name"));
  CHECK(Has(Check("a..b", Field("f", "")), "is not a field name"));
  CHECK(Check("anything", Str("s", "")).empty());
  CHECK(Has(Check("{a: 1}", Str("s", "")), "expected a string, got a map"));
  CHECK(Has(Check("~", Str("s", "")), "expected a string, got nothing"));
  CHECK(Check("{a: [1]}", Any("x", "")).empty());
}

TEST_CASE("ValidateValue: enum") {
  FieldSpec e = Enum("backend", {"memory", "rocksdb"}, "");
  CHECK(Check("memory", e).empty());
  Diagnostics d = Check("rocksbd", e);
  REQUIRE(d.size() == 1);
  CHECK(d.list()[0].message == "test: expected one of memory, rocksdb, got 'rocksbd'");
  CHECK(d.list()[0].hint == "did you mean 'rocksdb'?");
  CHECK(Check("zzzzzzzz", e).list().at(0).hint.empty());
}

TEST_CASE("ValidateValue: lists and maps") {
  FieldSpec l = ListOf("l", Int("", ""), "");
  CHECK(Check("[1, 2, 3]", l).empty());
  Diagnostics d = Check("[1, x, 3]", l);
  REQUIRE(d.size() == 1);
  CHECK(d.list()[0].message == "test[1]: 'x' is not an integer");
  CHECK(d.list()[0].mark.column == 5);
  Diagnostics scalar = Check("abc", l);
  REQUIRE(scalar.size() == 1);
  CHECK(scalar.list()[0].message == "test: expected a list of integers, got 'abc'");
  CHECK(scalar.list()[0].hint == "write [abc] for a list of one");

  FieldSpec m = MapOf("m", Dur("", ""), "");
  CHECK(Check("{a: 1s, b: 2m}", m).empty());
  CHECK(Has(Check("{a: 1s, b: soon}", m), "test.b: 'soon' is not a duration"));
  CHECK(Has(Check("[1]", m), "expected a map of durations, got a list"));
}

TEST_CASE("ValidateValue: objects") {
  FieldSpec window = Obj(
      "window",
      {Dur("tumbling", "size"), Dur("sliding", "size"),
       Required(MapOf("aggregate", Expr("", ""), "aggregates")), Obj("emit", {Dur("every", "period")}, "")},
      "");
  CHECK(Check("{tumbling: 5s, aggregate: {n: count()}}", window).empty());
  Diagnostics d = Check("tumblng: 5s\naggregate: {n: count()}\n", window);
  REQUIRE(d.size() == 1);
  CHECK(d.list()[0].message == "unknown key 'tumblng' in test");
  CHECK(d.list()[0].hint == "did you mean 'tumbling'?");
  CHECK(d.list()[0].mark.line == 1);

  Diagnostics missing = Check("tumbling: 5s\n", window);
  REQUIRE(missing.size() == 1);
  CHECK(missing.list()[0].message == "missing required key 'aggregate' in test");

  Diagnostics nested = Check("aggregate: {}\nemit: {every: 5q, evry: 1s}\n", window);
  CHECK(nested.size() == 2);
  CHECK(Has(nested, "test.emit.every: '5q' is not a duration"));
  CHECK(Has(nested, "unknown key 'evry' in test.emit"));

  // `where` that is a phrase: nested keys are quoted as a path.
  Diagnostics phrase;
  ConfNode n = LoadClean("aggregate: {}\nemit: {every: 5q}\n");
  ValidateValue(n, window, "window step of transform 'tx'", phrase);
  REQUIRE(phrase.size() == 1);
  CHECK(phrase.list()[0].message ==
        "'emit.every' in window step of transform 'tx': '5q' is not a duration (expected e.g. "
        "250ms, 5s, 30m, 1h)");

  FieldSpec open = window;
  open.additional_fields = true;
  CHECK(Check("{aggregate: {}, custom: 1}", open).empty());
  CHECK(Has(Check("[1]", window), "expected a map, got a list"));
}

TEST_CASE("ValidateValue: one of") {
  FieldSpec key = OneOf("key_by", {Field("", ""), ListOf("", Field("", ""), "")}, "");
  CHECK(Check("page", key).empty());
  CHECK(Check("[page, user.id]", key).empty());
  Diagnostics d = Check("{a: 1}", key);
  REQUIRE(d.size() == 1);
  CHECK(d.list()[0].message == "test: expected a field name or a list of field names, got a map");
  // A list with one bad item: the list alternative explains, at the item.
  Diagnostics item = Check("[page, \"bad name\"]", key);
  REQUIRE(item.size() == 1);
  CHECK(item.list()[0].message.find("'bad name' is not a field name") != std::string::npos);
  CHECK(item.list()[0].mark.column == 8);

  FieldSpec emit =
      OneOf("emit", {Enum("", {"on_close", "on_update"}, ""), Obj("", {Required(Dur("every", ""))}, "")}, "");
  CHECK(Check("on_update", emit).empty());
  CHECK(Check("{every: 1s}", emit).empty());
  Diagnostics typo = Check("on_updat", emit);
  REQUIRE(typo.size() == 1);
  CHECK(typo.list()[0].message == "test: expected one of on_close, on_update or a map, got 'on_updat'");
  CHECK(typo.list()[0].hint == "did you mean 'on_update'?");
  Diagnostics inner = Check("{evry: 1s}", emit);
  CHECK(Has(inner, "unknown key 'evry'"));
  CHECK(Has(inner, "did you mean 'every'?"));
}

TEST_CASE("RuntimeSpec") {
  const FieldSpec& rt = RuntimeSpec();
  CHECK(rt.type == FieldType::kObject);
  std::vector<std::string> names;
  for (const auto& f : rt.fields) {
    names.push_back(f.name);
    CHECK_MESSAGE(!f.description.empty(), f.name);
    for (const auto& sub : f.fields) CHECK_MESSAGE(!sub.description.empty(), sub.name);
  }
  CHECK(names ==
        std::vector<std::string>{"parallelism", "member", "state", "checkpoint", "metrics", "ui", "errors"});
  CHECK(Check("{parallelism: 4, state: {backend: rocksdb, path: /tmp/s}, checkpoint: {interval: "
              "5s, storage: \"s3://b/p\", mode: at_least_once, retain: 2, timeout: 1m}, "
              "errors: {policy: skip}}",
              rt)
            .empty());
  Diagnostics d = Check("{checkpoint: {interval: 5s, mode: exactly_one}, state: {backend: rocksbd}}", rt);
  CHECK(d.size() == 3);
  CHECK(Has(d, "missing required key 'storage' in test.checkpoint"));
  CHECK(Has(d, "did you mean 'exactly_once'?"));
  CHECK(Has(d, "did you mean 'rocksdb'?"));
}

// ---------------------------------------------------------------------------
// ValidatePipeline.

TEST_CASE("pipeline: a valid file has no diagnostics") {
  Diagnostics d = ValidateText(kValid);
  CHECK_MESSAGE(d.empty(), d.ToString());
}

TEST_CASE("pipeline: three mistakes, three diagnostics") {
  Diagnostics d = ValidateText(R"(name: demo
sources:
  clicks:
    type: file
    path: in.jsonl
    fromat: json
transforms:
  counts:
    input: clicks
    steps:
      - window:
          tumblng: 5s
      - filter: x > 1
sinks:
  out:
    type: stdout
    input: counts
    format: yaml
)");
  REQUIRE_MESSAGE(d.size() == 3, d.ToString());
  CHECK(d.ToString() ==
        "p.yaml:6:5: error: unknown key 'fromat' in source 'clicks' (did you mean 'format'?)\n"
        "p.yaml:12:11: error: unknown key 'tumblng' in window step of transform 'counts' (did "
        "you mean 'tumbling'?)\n"
        "p.yaml:18:13: error: 'format' in sink 'out': expected one of json, table, got 'yaml'\n");
}

TEST_CASE("pipeline: top level") {
  Diagnostics d = ValidateText("name: bad name!\nsorces: {}\n");
  CHECK(Has(d, "unknown top-level key 'sorces' (did you mean 'sources'?)"));
  CHECK(Has(d, "may only contain letters, digits"));
  CHECK(Has(d, "a pipeline needs at least one source"));
  CHECK(Has(d, "a pipeline needs at least one sink"));
  CHECK(Has(ValidateText("- a\n"), "a pipeline file must be a map"));
  CHECK(Has(ValidateText("sources: {a: {type: file, path: x}}\nsinks: {b: {type: stdout, input: a}}\n"),
            "missing required key 'name'"));
  CHECK(Has(ValidateText("name: x\nplugins: lib.so\nsources: {a: {type: file, path: x}}\n"
                         "sinks: {b: {type: stdout, input: a}}\n"),
            "plugins: expected a list of plugin library paths"));
  // A listen address with no host is every address (0.0.0.0); without a port it is refused.
  CHECK(ValidateText(
            "name: x\nruntime: {metrics: {listen: ':9249'}, ui: {listen: '127.0.0.1:0'}}\n"
            "sources: {a: {type: file, path: x}}\nsinks: {b: {type: stdout, input: a, preview: True}}\n")
            .empty());
  CHECK(
      Has(ValidateText("name: x\nruntime: {ui: {listen: 'localhost'}}\nsources: {a: {type: file, path: x}}\n"
                       "sinks: {b: {type: stdout, input: a}}\n"),
          "runtime.ui.listen: 'localhost' is not host:port"));
}

TEST_CASE("pipeline: components") {
  Diagnostics d = ValidateText(R"(name: x
sources:
  a: {type: fil, path: x}
  b: {path: x}
  c: {type: file}
transforms:
  t:
    input: a
    steps:
      - fliter: x
      - filter:
      - {filter: x, key_by: y}
  u:
    input: a
    steps: []
  v:
    steps: [{filter: x}]
sinks:
  s: {type: stdout, input: t}
)");
  CHECK(Has(d, "3:13: error: unknown source type 'fil' in source 'a' (did you mean 'file'?)"));
  CHECK(Has(d, "missing required key 'type' in source 'b' (one of: file, kafka)"));
  CHECK(Has(d, "missing required key 'path' in source 'c'"));
  CHECK(Has(d, "unknown step 'fliter' in transform 't' (did you mean 'filter'?)"));
  CHECK(Has(d, "filter step of transform 't': expected an expression, got nothing"));
  CHECK(Has(d, "a step has a single key, found 'filter' and 'key_by'"));
  CHECK(Has(d, "transform 'u': steps: expected a non-empty list of steps, got an empty list"));
  CHECK(Has(d, "transform 'v' has no input"));
}

TEST_CASE("pipeline: inputs") {
  Diagnostics d = ValidateText(R"(name: x
sources:
  clicks: {type: file, path: x}
transforms:
  t:
    input: clikcs
    steps: [{filter: x}]
  both:
    input: clicks
    inputs: [clicks]
  dot.name:
    input: clicks
    steps: [{filter: x}]
sinks:
  s: {type: stdout, input: t}
  s2: {type: stdout, inputs: [t, s, t]}
  clicks: {type: stdout, input: t}
)");
  const Diagnostic& unknown = Find(d, "unknown input 'clikcs' of transform 't'");
  CHECK(unknown.hint == "did you mean 'clicks'?");
  CHECK(unknown.mark.line == 6);
  CHECK(unknown.mark.column == 12);
  CHECK(Has(d, "transform 'both' has both 'input' and 'inputs'"));
  CHECK(Has(d, "transform name 'dot.name' must not contain '.'"));
  CHECK(Has(d, "input 's' is a sink; only sources and transforms can be inputs"));
  CHECK(Has(d, "input 't' is listed twice"));
  CHECK(Has(d, "name 'clicks' is already used by a source (line 3)"));
}

TEST_CASE("pipeline: cycles") {
  Diagnostics d = ValidateText(R"(name: x
sources:
  src: {type: file, path: x}
transforms:
  a:
    inputs: [src, b]
    steps: [{filter: x}]
  b:
    input: a
    steps: [{filter: x}]
  self:
    input: self
    steps: [{filter: x}]
sinks:
  s: {type: stdout, input: b}
)");
  REQUIRE_MESSAGE(d.size() == 2, d.ToString());
  const Diagnostic& ab = Find(d, "transforms form a cycle: a -> b -> a");
  CHECK(ab.mark.line == 9);
  const Diagnostic& self = Find(d, "transforms form a cycle: self -> self");
  CHECK(self.mark.line == 12);
  CHECK(self.mark.column == 12);
}

TEST_CASE("pipeline: late side outputs") {
  std::string head = R"(name: x
sources:
  src: {type: file, path: x}
transforms:
  w:
    input: src
    steps:
      - key_by: k
      - window: {tumbling: 5s, aggregate: {n: count()}}
  f:
    input: src
    steps: [{filter: x}]
)";
  Diagnostics ok = ValidateText(head + "sinks:\n  late: {type: stdout, input: w.late}\n");
  CHECK_MESSAGE(ok.empty(), ok.ToString());
  Diagnostics no_window = ValidateText(head + "sinks:\n  late: {type: stdout, input: f.late}\n");
  CHECK(Has(no_window, "input 'f.late': transform 'f' has no window step"));
  Diagnostics source = ValidateText(head + "sinks:\n  late: {type: stdout, input: src.late}\n");
  CHECK(Has(source, "'src' is a source; only a transform with a window step has a late output"));
  Diagnostics unknown = ValidateText(head + "sinks:\n  late: {type: stdout, input: ww.late}\n");
  CHECK(Has(unknown, "unknown input 'ww.late'"));
  Diagnostics other = ValidateText(head + "sinks:\n  late: {type: stdout, input: w.early}\n");
  CHECK(Has(other, "unknown input 'w.early'"));
  // A late output feeding its own transform is a cycle.
  Diagnostics loop = ValidateText(R"(name: x
sources:
  src: {type: file, path: x}
transforms:
  w:
    inputs: [src, w.late]
    steps: [{window: {tumbling: 5s}}]
sinks:
  s: {type: stdout, input: w}
)");
  CHECK(Has(loop, "transforms form a cycle: w -> w"));
}

TEST_CASE("pipeline: dead-letter sink") {
  std::string body = R"(sources:
  src: {type: file, path: x}
sinks:
  out: {type: stdout, input: src}
  bad: {type: file, path: bad.jsonl}
)";
  CHECK(ValidateText("name: x\nruntime: {errors: {policy: dead_letter, sink: bad}}\n" + body).empty());
  Diagnostics no_policy = ValidateText("name: x\n" + body);
  REQUIRE(no_policy.size() == 1);
  CHECK(no_policy.list()[0].message == "sink 'bad' has no input");
  CHECK(no_policy.list()[0].mark.line == 6);
  Diagnostics no_sink = ValidateText("name: x\nruntime: {errors: {policy: dead_letter}}\n" + body);
  CHECK(Has(no_sink, "policy dead_letter needs 'sink'"));
  Diagnostics wrong = ValidateText("name: x\nruntime: {errors: {policy: dead_letter, sink: bads}}\n" + body);
  CHECK(Has(wrong, "runtime.errors.sink: 'bads' is not a sink (did you mean 'bad'?)"));
  Diagnostics with_input =
      ValidateText("name: x\nruntime: {errors: {policy: dead_letter, sink: out}}\n" + body);
  CHECK(Has(with_input, "dead-letter sink 'out' must not have an input"));
  CHECK(Has(with_input, "sink 'bad' has no input"));
  Diagnostics skip = ValidateText("name: x\nruntime: {errors: {policy: skip, sink: bad}}\n" + body);
  CHECK(Has(skip, "only used with policy: dead_letter"));
}

TEST_CASE("pipeline: runtime rules") {
  std::string body = "sources: {a: {type: file, path: x}}\nsinks: {b: {type: stdout, input: a}}\n";
  Diagnostics d = ValidateText(
      "name: x\nruntime:\n  parallelism: 0\n  state: {backend: rocksdb}\n  checkpoint: {storage: "
      "/tmp/x, retain: 0, interval: 5x}\n  metric: {}\n" +
      body);
  CHECK(Has(d, "runtime.parallelism: must be at least 1"));
  CHECK(Has(d, "backend rocksdb needs 'path'"));
  CHECK(Has(d, "'/tmp/x' is not a checkpoint location"));
  CHECK(Has(d, "runtime.checkpoint.retain: must be at least 1"));
  CHECK(Has(d, "runtime.checkpoint.interval: '5x' is not a duration"));
  CHECK(Has(d, "unknown key 'metric' in runtime (did you mean 'metrics'?)"));
  CHECK(d.size() == 6);
}

TEST_CASE("pipeline: never crashes on odd trees") {
  FakeCatalog catalog;
  EmptyCatalog empty;
  for (const char* text :
       {"~", "[]", "{}", "name: [x]\nsources: [1]\nsinks: 3\ntransforms: [a]\n",
        "name: x\nsources: {a: ~, b: [], ? [k] : v}\ntransforms: {t: ~, u: {steps: [~, [], {~: 1}]}}\n"
        "sinks: {s: {type: ~, input: [a]}}\nruntime: {errors: [x]}\n",
        "name: x\nruntime: {errors: {policy: dead_letter, sink: [x]}}\nsinks: {s: {inputs: 5}}\n",
        "runtime: {errors: ~}\nsinks: {s: {type: stdout, inputs: ~, input: ~}}\n"}) {
    Diagnostics diags;
    auto root = LoadYamlText(text, "p.yaml", FakeEnv({}), diags);
    REQUIRE(root.has_value());
    ValidatePipeline(*root, catalog, diags);
    ValidatePipeline(*root, empty, diags);
    CHECK_FALSE(diags.empty());
  }
}

// ---------------------------------------------------------------------------
// Generation.

TEST_CASE("JSON schema") {
  FakeCatalog catalog;
  std::string schema = PipelineJsonSchema(catalog);
  CHECK(schema == PipelineJsonSchema(catalog));
  CHECK(schema.back() == '\n');
  CHECK(schema.find("\"$schema\": \"http://json-schema.org/draft-07/schema#\"") != std::string::npos);
  CHECK(schema.find("\"const\": \"kafka\"") != std::string::npos);
  CHECK(schema.find("\"tumbling\"") != std::string::npos);
  CHECK(schema.find("\"exactly_once\"") != std::string::npos);
  CHECK(schema.find("\"default\": 3") != std::string::npos);  // retain
  // Components sorted by name: file before kafka.
  CHECK(schema.find("\"const\": \"file\"") < schema.find("\"const\": \"kafka\""));
  EmptyCatalog empty;
  CHECK(PipelineJsonSchema(empty).find("\"source\"") != std::string::npos);
}

TEST_CASE("operator reference") {
  FakeCatalog catalog;
  std::string md = OperatorReferenceMarkdown(catalog);
  CHECK(md == OperatorReferenceMarkdown(catalog));
  CHECK(md.rfind("# Operator reference\n", 0) == 0);
  size_t sources = md.find("## Sources"), steps = md.find("## Steps"), sinks = md.find("## Sinks");
  CHECK(sources < steps);
  CHECK(steps < sinks);
  CHECK(md.find("### `file`") < md.find("### `kafka`"));
  CHECK(md.find("| `path` | string | yes |") != std::string::npos);
  CHECK(md.find("| `emit` | enum: `on_close` \\| `on_update` or object | no |") != std::string::npos);
  CHECK(md.find("| `filter` | expression | yes |") != std::string::npos);
  CHECK(md.find("```yaml\nin:\n  type: file\n") != std::string::npos);
  CHECK(md.back() == '\n');
}

TEST_CASE("clearer messages: tabs, type: null, nested defaults") {
  Diagnostics tab;
  LoadYamlText("name: x\nsources:\n\tin: {type: stdin}\n", "p.yaml", FakeEnv({}), tab);
  CHECK(Has(tab, "tabs are not allowed in YAML indentation"));
  // `type: null` is the null sink, not YAML's null.
  ConfNode n = LoadClean("sinks:\n  out: {type: null, input: a}\n  quiet: {type: ~}\n");
  CHECK(n.Find("sinks")->Find("out")->Find("type")->scalar == "null");
  CHECK(n.Find("sinks")->Find("quiet")->Find("type")->IsNull());
  // A default may hold a reference of its own; it is read only when used.
  Diagnostics d;
  ConfNode v = Load("a: ${A:-${B:-x}}\nb: ${A:-${C}}\n", d, {{"A", "set"}});
  CHECK(d.empty());
  CHECK(v.Find("a")->scalar == "set");
  CHECK(v.Find("b")->scalar == "set");
  Diagnostics d2;
  ConfNode w = Load("a: ${A:-${B:-x}}\nb: ${A:-${B:-${C:-deep}}}\n", d2, {});
  CHECK(d2.empty());
  CHECK(w.Find("a")->scalar == "x");
  CHECK(w.Find("b")->scalar == "deep");
  // An alias bomb: one error, not a second "must be a map" about an empty document.
  std::string bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  char prev = 'a';
  for (char c = 'b'; c <= 'i'; ++c) {
    bomb += std::string(1, c) + ": &" + c + " [";
    for (int i = 0; i < 10; ++i) bomb += std::string(i ? ", *" : "*") + prev;
    bomb += "]\n";
    prev = c;
  }
  Diagnostics big;
  CHECK_FALSE(LoadYamlText(bomb, "p.yaml", FakeEnv({}), big).has_value());
  CHECK(big.size() == 1);
}
