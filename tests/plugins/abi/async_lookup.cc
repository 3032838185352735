// An SDK plugin of asynchronous calls (SR_OP_ASYNC, completions in the order
// calls began), keyed: for each record it makes one call, and when the call
// completes emits the record with `answer` and `seen` (how many of its key's
// records have completed, kept in value state on completion).
// - With `url`: an HTTP request the host runs, `URL?id=ID&mode=MODE` (the
//   record's `id` and `mode`), retried up to 3 times on a failure or a 5xx;
//   `answer` is the `score` of the JSON answer; a 4xx fails the record.
// - Without: a thread of the plugin's completes each call `delay_ms` later
//   from that thread (async_complete off the worker's thread); `answer` is
//   the record's `name` upper-cased.
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <map>
#include <mutex>
#include <streamrun/sdk.hpp>
#include <thread>

namespace sdk = streamrun::sdk;

namespace {

// One background thread that completes calls after a delay.
class Completer {
 public:
  explicit Completer(int64_t delay_ms) : delay_ms_(delay_ms), thread_([this] { Run(); }) {}
  ~Completer() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }
  void Add(const sdk::Context* ctx, uint64_t id, std::string answer) {
    std::lock_guard<std::mutex> lock(mutex_);
    queue_.push_back({ctx, id, std::move(answer),
                      std::chrono::steady_clock::now() + std::chrono::milliseconds(delay_ms_)});
    wake_.notify_all();
  }
  // Waits until every call added so far is completed.
  void Drain() {
    std::unique_lock<std::mutex> lock(mutex_);
    idle_.wait(lock, [this] { return queue_.empty(); });
  }

 private:
  struct Call {
    const sdk::Context* ctx;
    uint64_t id;
    std::string answer;
    std::chrono::steady_clock::time_point due;
  };
  void Run() {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      wake_.wait(lock, [this] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;
      const auto due = queue_.front().due;
      if (std::chrono::steady_clock::now() < due) {
        wake_.wait_until(lock, due);
        continue;
      }
      Call call = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      call.ctx->CompleteAsync(call.id, SR_OK, 0, call.answer);  // off the worker's thread
      lock.lock();
      if (queue_.empty()) idle_.notify_all();
    }
  }
  int64_t delay_ms_;
  std::mutex mutex_;
  std::condition_variable wake_, idle_;
  std::deque<Call> queue_;
  bool stop_ = false;
  std::thread thread_;
};

class AsyncLookup : public sdk::Operator {
 public:
  AsyncLookup(const sdk::Json& config, sdk::Context& ctx)
      : url_(config["url"].Str()), delay_ms_(config["delay_ms"].Int()) {
    id_ = ctx.DeclareField("id");
    mode_ = ctx.DeclareField("mode");
    name_ = ctx.DeclareField("name");
  }
  void Open(sdk::Context& ctx) override {
    seen_ = ctx.DeclareValue<int64_t>("seen");
    if (url_.empty()) completer_ = std::make_unique<Completer>(delay_ms_);
  }
  void ProcessRecord(sdk::Record& r, sdk::Context& ctx) override { Call(r, ctx, 1); }

  void OnAsyncComplete(const sdk::AsyncResult& result, sdk::Record& held, sdk::Context& ctx) override {
    const int attempt = attempts_[result.id];
    attempts_.erase(result.id);
    std::string answer(result.data);
    if (!url_.empty()) {
      if (!result.ok() || result.code >= 500) {
        if (attempt <= 3) return Call(held, ctx, attempt + 1);  // holds the record again
        throw std::runtime_error("no answer after " + std::to_string(attempt) + " attempts");
      }
      if (result.code != 200) throw std::runtime_error("HTTP " + std::to_string(result.code));
      const size_t at = answer.find("\"score\":");
      if (at == std::string::npos) throw std::runtime_error("the answer has no score");
      answer = std::to_string(std::atoll(answer.c_str() + at + 8));
    }
    held.SelectKey();
    const int64_t seen = seen_.Get().value_or(0) + 1;
    seen_.Put(seen);
    ctx.BuildFrom(held.row()).Set("answer", answer).Set("seen", seen).Emit();
  }

  void Close(sdk::Context&) override {
    if (completer_) completer_->Drain();
  }

 private:
  void Call(sdk::Record& r, sdk::Context& ctx, int attempt) {
    uint64_t id;
    if (!url_.empty()) {
      sdk::HttpRequest req;
      req.url = url_ + "?id=" + std::string(r[id_].Str()) + "&mode=" + std::string(r[mode_].Str());
      req.timeout_ms = 500;
      id = ctx.HttpRequest(r.row(), req);
    } else {
      id = ctx.AsyncBegin(r.row());
      std::string upper(r[name_].Str());
      for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      completer_->Add(&ctx, id, upper);
    }
    attempts_[id] = attempt;
  }

  std::string url_;
  int64_t delay_ms_;
  sdk::FieldRef id_, mode_, name_;
  sdk::ValueState<int64_t> seen_;
  std::unique_ptr<Completer> completer_;
  std::map<uint64_t, int> attempts_;
};

const sr_operator kAsyncLookup = sdk::MakeOperator<AsyncLookup,
                                                   SR_OP_KEYED | SR_OP_ASYNC | SR_OP_ASYNC_ORDERED>(
    "async_lookup", "1.0.0", "A call per record, completed by a thread or an HTTP server",
    R"({"type":"object","properties":{"url":{"type":"string"},"delay_ms":{"type":"integer","default":5}}})");

}  // namespace

STREAMRUN_PLUGIN("async_lookup", "1.0.0", &kAsyncLookup)
