// enrich_http: one HTTP request per record (libcurl multi, up to
// max_in_flight at once per worker), its JSON response put on the record.
// Records wait here while their request runs: the step's watermark waits with
// them (a record never leaves behind a watermark that passed it), and a
// checkpoint writes the records still waiting, with the requests' state, so a
// restore sends their requests again: each record is enriched, retried or
// failed (error policy) once in the output, whatever crashes between.
#include <algorithm>
#include <chrono>
#include <deque>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "operators/held_record.h"
#include "operators/http_client.h"
#include "operators/steps/steps.h"
#include "runner/expr/json_util.h"
#include "runner/record/clock.h"
#include "runner/record/json_decoder.h"
#include "runner/record/json_writer.h"
#include "runner/state/key_groups.h"

namespace streamrun {

const config::ComponentSpec& EnrichHttpSpec() {
  static const config::ComponentSpec spec = [] {
    using namespace config;
    ComponentSpec s;
    s.kind = ComponentKind::kStep;
    s.name = "enrich_http";
    s.summary = "Call an HTTP service per record and put its JSON answer on the record.";
    s.description =
        "A request per record: `url` (and `body` for POST) are expressions over the record. Up to "
        "`max_in_flight` requests run at once on each worker; a record waits here until its answer. A "
        "2xx answer must be a JSON object: `into: NAME` puts it whole on the record as NAME; `fields: [a, "
        "b]` sets those of its top-level fields (null when absent). A connection error, a timeout, 429 or a "
        "5xx is retried up to `retries` times, waiting `backoff` doubled each time; another 4xx, an answer "
        "that is not a JSON object, or the last failed retry is a record error (the error policy applies: "
        "with dead_letter the record goes there with the reason). With `ordered: true` records leave in the "
        "order they came; with false, as their answers come (records of one key may then change order). "
        "The watermark waits for the records before it. Checkpoints keep the records still waiting and a "
        "restore sends their requests again: every record is enriched or failed exactly once in the output "
        "(a service may see a request twice across a crash).";
    FieldSpec headers =
        MapOf("headers", Str("", "A header's value"), "Request headers, e.g. {Authorization: ...}.");
    s.value = Required(Obj(
        "",
        {Required(Example(Expr("url", "Expression giving the request's URL."),
                          "\"concat('http://risk:8080/score?card=', card_id)\"")),
         Default(Enum("method", {"GET", "POST"}, "The HTTP method."), "GET"),
         Expr("body", "POST: expression giving the body (an object or list is sent as its JSON)."), headers,
         Field("into", "Put the whole answer on the record under this name."),
         ListOf("fields", Str("", "A top-level field of the answer"),
                "Set these top-level fields of the answer on the record (instead of `into`)."),
         Default(Int("max_in_flight", "Requests running at once, per worker."), "100"),
         Default(Dur("timeout", "How long one attempt may take."), "5s"),
         Default(Int("retries", "Attempts after the first, for errors worth retrying."), "3"),
         Default(Dur("backoff", "The wait before the first retry; doubled for each next one."), "100ms"),
         Default(Bool("ordered", "Records leave in the order they came (else as answers come)."), "true")},
        "The request and what to take from its answer."));
    s.example =
        "- enrich_http:\n    url: concat('http://risk:8080/score?card=', card_id)\n    fields: [score]\n"
        "    max_in_flight: 200\n    timeout: 2s";
    return s;
  }();
  return spec;
}

namespace {

struct EnrichConfig {
  std::unique_ptr<expr::Expression> url;
  std::unique_ptr<expr::Expression> body;
  bool post = false;
  std::vector<std::string> headers;  // "Name: value"
  int into_slot = -1;
  std::vector<std::string> fields;
  std::vector<int> field_slots;
  int64_t max_in_flight = 100;
  int64_t timeout_ms = 5000;
  int64_t retries = 3;
  int64_t backoff_ms = 100;
  bool ordered = true;
  const Universe* universe = nullptr;  // its width is final once the pipeline is planned
};

// One record waiting for its answer.
struct Request {
  uint64_t seq = 0;  // arrival order on this worker
  Batch record;      // the record, one row that owns its bytes
  std::string url, body;
  int attempts = 0;      // started so far
  int64_t retry_at = 0;  // waiting for a retry until then (ms); 0: not waiting
  std::string answer;    // the body received
  bool done = false;     // answered for good: ok, or failed
  bool ok = false;
  std::string error;  // failed: why
};

class EnrichHttpInstance : public StepInstance {
 public:
  explicit EnrichHttpInstance(const EnrichConfig* c)
      : c_(*c), width_(static_cast<uint32_t>(c->universe->width)), http_(c->max_in_flight), out_(width_) {
    request_.method = c_.post ? "POST" : "GET";
    request_.headers = c_.headers;
    request_.timeout_ms = c_.timeout_ms;
  }

  void Process(Batch& batch, StepEnv& env, Emitter& out) override {
    expr::EvalContext ctx{&batch.arena(), env.now_ms, {}};
    for (uint32_t i = 0; i < batch.size(); ++i) {
      auto r = std::make_unique<Request>();
      Value url, body;
      if (!c_.url->Eval(batch.row(i), ctx, &url) || (c_.body && !c_.body->Eval(batch.row(i), ctx, &body))) {
        env.errors->Fail(batch, i, "enrich_http: " + ctx.error);
        ctx.error.clear();
        continue;
      }
      if (url.kind != Kind::kString) {
        env.errors->Fail(batch, i,
                         "enrich_http: url is " + std::string(KindName(url.kind)) + ", expected a string");
        continue;
      }
      r->url.assign(url.text());
      if (c_.body) {
        if (body.kind == Kind::kString)
          r->body.assign(body.text());
        else
          AppendJsonValue(body, &r->body);
      }
      r->seq = next_seq_++;
      r->record = Batch(width_);
      CopyRow(batch, i, r->record);
      // At most max_in_flight waiting: past it, the worker waits here for
      // answers (and so reads no more: backpressure).
      while (waiting_.size() >= static_cast<size_t>(c_.max_in_flight)) Drive(100, env, out);
      Start(r.get());
      waiting_.push_back(std::move(r));
    }
    Drive(0, env, out);
  }

  void OnWatermark(int64_t watermark, StepEnv& env, Emitter& out) override {
    held_.emplace_back(next_seq_, watermark);
    if (watermark == kEndOfTime)
      while (!waiting_.empty()) Drive(100, env, out);  // the input is done: every answer first
    Drive(0, env, out);
  }

  void OnProcessingTime(int64_t now_ms, StepEnv& env, Emitter& out) override { Drive(0, env, out); }

  // The records still waiting, each in its key group (a restore hands them
  // to the worker that owns the group now, which sends their requests again).
  void Snapshot(StateSnapshot& out) override {
    SnapshotWriter global(&out.global);
    global.I64(released_);
    for (const auto& r : waiting_) {
      SnapshotWriter w(&out.groups[KeyGroupOf(r->record.key_hash(0))]);
      SaveHeldRecord(r->record, 0, w);
    }
  }

  // What every worker had passed on: the lowest is where outputs resume.
  int64_t RestoredWatermark() const override { return released_; }

  void Restore(const StateRestore& in) override {
    bool first = true;
    for (const auto& global : in.globals) {
      if (global.empty()) continue;
      SnapshotReader r(global);
      const int64_t released = r.I64();
      released_ = first ? released : std::min(released_, released);
      first = false;
    }
    std::vector<std::unique_ptr<Request>> restored;
    for (uint32_t g = 0; g < kKeyGroups; ++g) {
      SnapshotReader r(in.groups[g]);
      while (!r.done()) {
        auto req = std::make_unique<Request>();
        req->record = Batch(width_);
        LoadHeldRecord(r, req->record);
        restored.push_back(std::move(req));
      }
    }
    // The order they came in: by where they were read.
    std::stable_sort(restored.begin(), restored.end(), [](const auto& a, const auto& b) {
      return RecordOrder::Of(a->record, 0, 0) < RecordOrder::Of(b->record, 0, 0);
    });
    expr::EvalContext ctx{nullptr, NowMs(), {}};
    for (auto& req : restored) {
      ctx.arena = &req->record.arena();
      Value url, body;
      if (!c_.url->Eval(req->record.row(0), ctx, &url) || url.kind != Kind::kString ||
          (c_.body && !c_.body->Eval(req->record.row(0), ctx, &body)))
        throw SnapshotError("enrich_http: a restored record no longer gives its request");
      req->url.assign(url.text());
      if (c_.body) {
        if (body.kind == Kind::kString)
          req->body.assign(body.text());
        else
          AppendJsonValue(body, &req->body);
      }
      req->seq = next_seq_++;
      restart_.push_back(req.get());
      waiting_.push_back(std::move(req));
    }
  }

 private:
  // Runs the requests: sends what may be sent, reads answers (waiting up to
  // `wait_ms` for one), emits what is done, then the watermarks it held.
  void Drive(int wait_ms, StepEnv& env, Emitter& out) {
    const int64_t now = NowMs();
    int64_t wait = wait_ms;
    for (size_t i = 0; i < restart_.size();) {
      if (restart_[i]->retry_at <= now) {
        Start(restart_[i]);
        restart_.erase(restart_.begin() + static_cast<long>(i));
      } else {
        wait = std::min<int64_t>(wait, restart_[i]->retry_at - now);
        ++i;
      }
    }
    answers_.clear();
    if (http_.running() > 0) {
      http_.Drive(static_cast<int>(wait), &answers_);
    } else if (wait > 0 && !restart_.empty()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(wait));  // only retries to wait for
    }
    for (auto& a : answers_) {
      auto it = running_.find(a.id);
      Request* r = it->second;
      running_.erase(it);
      Answered(r, a);
    }
    Emit(env, out);
  }

  void Start(Request* r) {
    r->retry_at = 0;
    ++r->attempts;
    request_.url = r->url;
    request_.body = r->body;
    running_[http_.Start(request_)] = r;
  }

  void Answered(Request* r, HttpClient::Answer& a) {
    std::string why;
    bool retry = false;
    if (!a.ok) {
      why = a.error;
      retry = true;
    } else if (a.status >= 200 && a.status < 300) {
      const size_t first = a.body.find_first_not_of(" \t\r\n");
      if (first != std::string::npos && a.body[first] == '{' && nlohmann::json::accept(a.body)) {
        r->answer = std::move(a.body);
        r->done = r->ok = true;
        return;
      }
      why = "the answer is not a JSON object: " + a.body.substr(0, 80);
    } else {
      why = "HTTP " + std::to_string(a.status);
      retry = a.status == 429 || a.status >= 500;
    }
    if (retry && r->attempts <= c_.retries) {
      r->retry_at = NowMs() + (c_.backoff_ms << std::min(r->attempts - 1, 20));
      restart_.push_back(r);
      return;
    }
    r->done = true;
    r->error = "enrich_http: " + why + " from " + r->url +
               (r->attempts > 1 ? " (after " + std::to_string(r->attempts) + " attempts)" : "");
  }

  // Emits what is done (ordered: only from the front), then the watermarks
  // every record before which has left.
  void Emit(StepEnv& env, Emitter& out) {
    for (size_t i = 0; i < waiting_.size();) {
      Request* r = waiting_[i].get();
      if (!r->done) {
        if (c_.ordered) break;
        ++i;
        continue;
      }
      if (r->ok)
        Enrich(*r, env);
      else
        env.errors->Add(RecordError{std::string(r->record.raw(0)), r->record.position(0), r->error});
      waiting_.erase(waiting_.begin() + static_cast<long>(i));
      if (out_.size() >= kDefaultBatchSize) Flush(out);
    }
    Flush(out);
    // Records wait in arrival order: the front is the oldest still here.
    const uint64_t lowest = waiting_.empty() ? next_seq_ : waiting_.front()->seq;
    while (!held_.empty() && held_.front().first <= lowest) {
      released_ = held_.front().second;
      out.EmitWatermark(released_);
      held_.pop_front();
    }
  }

  void Enrich(Request& r, StepEnv& env) {
    CopyRow(r.record, 0, out_);
    const uint32_t row = out_.size() - 1;
    // The watermark passed on so far: a record that leaves before one held
    // from earlier (unordered) must not make that one late downstream.
    out_.set_watermark(row, std::min(out_.watermark(row), released_));
    Arena& arena = out_.arena();
    const std::string_view answer = arena.Copy(r.answer);
    if (c_.into_slot >= 0) out_.row(row)[c_.into_slot] = Value::Object(answer);
    expr::EvalContext ctx{&arena, env.now_ms, {}};
    for (size_t f = 0; f < c_.fields.size(); ++f) {
      Value v;
      if (!expr::NavigateJson(Value::Object(answer), {c_.fields[f]}, ctx, &v)) v = Value::Null();
      out_.row(row)[c_.field_slots[f]] = v;
    }
  }

  void Flush(Emitter& out) {
    if (out_.empty()) return;
    out.Emit(out_);
    out_.Clear(width_);
  }

  const EnrichConfig& c_;
  const uint32_t width_;
  HttpClient http_;
  HttpClient::Request request_;  // method, headers and timeout, set once
  std::vector<HttpClient::Answer> answers_;
  std::unordered_map<uint64_t, Request*> running_;  // by the client's id
  std::deque<std::unique_ptr<Request>> waiting_;    // in arrival order
  std::vector<Request*> restart_;                   // to start (again) once their time comes
  std::deque<std::pair<uint64_t, int64_t>> held_;   // (records before it, watermark)
  uint64_t next_seq_ = 0;
  int64_t released_ = kNoTime;  // the last watermark passed on
  Batch out_;
};

class EnrichHttpPlan : public StepPlan {
 public:
  explicit EnrichHttpPlan(std::unique_ptr<EnrichConfig> c) : c_(std::move(c)) {}
  std::unique_ptr<StepInstance> Instantiate(const OperatorContext&) const override {
    return std::make_unique<EnrichHttpInstance>(c_.get());
  }
  std::string Describe() const override {
    std::string into = c_->into_slot >= 0 ? "into a field" : std::to_string(c_->fields.size()) + " fields";
    return std::string("enrich_http ") + (c_->post ? "POST " : "GET ") + c_->url->text() + " (" + into +
           ", up to " + std::to_string(c_->max_in_flight) + " in flight, " +
           (c_->ordered ? "ordered" : "unordered") + ")";
  }

 private:
  std::unique_ptr<EnrichConfig> c_;
};

}  // namespace

std::unique_ptr<StepPlan> PlanEnrichHttp(const config::ConfNode& value, PlanContext& ctx) {
  const config::Options o = ctx.Options(value, EnrichHttpSpec());
  auto c = std::make_unique<EnrichConfig>();
  const config::ConfNode* url = o.Node("url");
  if (!url) return nullptr;  // reported by the spec check
  c->url = ctx.Compile(*url);
  if (const config::ConfNode* body = o.Node("body")) c->body = ctx.Compile(*body);
  c->post = o.Enum("method") == "POST";
  if (c->body && !c->post) ctx.Error(o.Node("body")->mark, "a body goes with method: POST");
  if (const config::ConfNode* headers = o.Node("headers"))
    for (const auto& [k, v] : headers->entries) c->headers.push_back(k.scalar + ": " + v.scalar);
  c->max_in_flight = o.Int("max_in_flight");
  c->timeout_ms = o.DurationMs("timeout");
  c->retries = o.Int("retries");
  c->backoff_ms = o.DurationMs("backoff");
  c->ordered = o.Bool("ordered");
  bool ok = c->url && (!o.Node("body") || c->body) && (!c->body || c->post);
  if (c->max_in_flight < 1 || c->max_in_flight > 100000) {
    ctx.Error(o.Node("max_in_flight") ? o.Node("max_in_flight")->mark : value.mark,
              "max_in_flight must be 1 to 100000");
    ok = false;
  }
  if (c->timeout_ms <= 0 || c->retries < 0 || c->retries > 100 || c->backoff_ms < 0) {
    ctx.Error(value.mark, "timeout must be positive, retries 0 to 100 and backoff not negative");
    ok = false;
  }
  const bool has_into = o.Node("into") != nullptr, has_fields = o.Node("fields") != nullptr;
  if (has_into == has_fields) {
    ctx.Error(
        value.mark,
        "enrich_http takes one of `into: NAME` (the whole answer) and `fields: [...]` (some of its fields)");
    ok = false;
  }
  if (!ok) return nullptr;
  c->universe = ctx.universe();
  if (has_into) {
    c->into_slot = ctx.NewSlot();
    ctx.SetField(o.String("into"), c->into_slot);
  } else {
    c->fields = o.Strings("fields");
    for (const auto& f : c->fields) {
      c->field_slots.push_back(ctx.NewSlot());
      ctx.SetField(f, c->field_slots.back());
    }
  }
  return std::make_unique<EnrichHttpPlan>(std::move(c));
}

}  // namespace streamrun
