#include "server_state.hpp"

#include "listener.hpp"
#include "session.hpp"

namespace hookd::http::detail {

io_shards::io_shards(const std::vector<boost::asio::io_context*>& contexts) {
  shards_.reserve(contexts.size());
  for (auto* io : contexts)
    shards_.push_back({io, std::make_shared<completion_mailbox>(io->get_executor())});
}

const io_shards::shard& io_shards::next() noexcept {
  return shards_[next_.fetch_add(1, std::memory_order_relaxed) % shards_.size()];
}

void io_shards::discard_completions() noexcept {
  for (auto& s : shards_)
    s.mailbox->discard();
}

bool server_state::admit(const std::shared_ptr<listener>& from) {
  std::lock_guard lock(mutex_);
  ++active_;
  if (active_ < config_.max_connections || detached_) return true;
  paused_.push_back(from);
  return false;
}

std::uint64_t server_state::track(std::weak_ptr<session> s) {
  std::lock_guard lock(mutex_);
  const auto key = next_key_++;
  sessions_.emplace(key, std::move(s));
  return key;
}

void server_state::release(std::uint64_t key) noexcept {
  std::vector<std::weak_ptr<listener>> resume;
  {
    std::lock_guard lock(mutex_);
    sessions_.erase(key);
    if (active_ > 0) --active_;
    if (active_ < config_.max_connections) resume.swap(paused_);
    // Called under the lock so forget_drained() cannot race with it.
    if (stopping_ && active_ == 0 && on_drained_) on_drained_();
  }
  for (auto& weak : resume) {
    if (auto l = weak.lock()) l->resume();
  }
}

std::vector<std::shared_ptr<session>> server_state::begin_shutdown(
    std::function<void()> on_drained) {
  std::vector<std::shared_ptr<session>> live;
  std::lock_guard lock(mutex_);
  stopping_ = true;
  on_drained_ = std::move(on_drained);
  for (auto& [key, weak] : sessions_) {
    if (auto s = weak.lock()) live.push_back(std::move(s));
  }
  if (active_ == 0 && on_drained_) on_drained_();
  return live;
}

void server_state::detach() noexcept {
  std::lock_guard lock(mutex_);
  on_drained_ = nullptr;
  paused_.clear();
  detached_ = true;
}

std::size_t server_state::active() const {
  std::lock_guard lock(mutex_);
  return active_;
}

}  // namespace hookd::http::detail
