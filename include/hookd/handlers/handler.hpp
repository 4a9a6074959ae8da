#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <hookd/config/config.hpp>
#include <hookd/core/event.hpp>

namespace hookd::handlers {

/// The attributes that identify and label an event, as the spool keeps them beside its text:
/// what a handler needs to name the event (exec's HOOKD_* variables, the log line) without
/// parsing it. Views: valid for the duration of the deliver() call.
struct event_attributes {
  std::string_view id;
  std::string_view type;
  std::string_view endpoint;
  std::string_view provider;
  std::string_view subject;

  event_attributes(std::string_view id_, std::string_view type_, std::string_view endpoint_,
                   std::string_view provider_, std::string_view subject_) noexcept
      : id(id_), type(type_), endpoint(endpoint_), provider(provider_), subject(subject_) {}
  /// Views into `ev`, which must outlive them.
  event_attributes(const event& ev) noexcept  // NOLINT(google-explicit-constructor)
      : event_attributes(ev.id, ev.type, ev.endpoint, ev.provider, ev.subject) {}
};

/// One delivery of one event to one handler. The whole event is `cloudevent`: a handler that
/// needs its data parses that text (the dispatcher does not parse it for handlers that only
/// copy it, as file and exec do).
struct delivery {
  event_attributes ev;
  std::string_view cloudevent;  ///< to_cloudevent(ev) serialized once, no trailing newline
  unsigned attempt = 1;         ///< 1 for the first attempt; handlers use it to be idempotent
};

/// The outcome of a delivery. `error` says why it failed (for the spool and the log).
struct result {
  bool ok = true;
  std::string error;

  static result success() { return {}; }
  static result failure(std::string why) { return {false, std::move(why)}; }
};

/// The one interface every handler implements. deliver() runs on a dispatch worker thread, never
/// on an io thread; it may block (a child process, a network call). It may be called from several
/// workers at once: implementations are thread-safe. It must not throw: failures are results.
class handler {
 public:
  virtual ~handler() = default;
  virtual const std::string& name() const noexcept = 0;
  virtual result deliver(const delivery& d) noexcept = 0;
  /// Called on SIGUSR1 (logrotate): reopen files. Default: nothing to do.
  virtual void reopen() noexcept {}
  /// How many deliveries of this handler the dispatcher may run at once (exec: `concurrency`).
  /// The dispatcher enforces it; deliver() is thread-safe regardless. Default 1: one event at a
  /// time, in order of arrival.
  virtual unsigned concurrency() const noexcept { return 1; }
};

/// Builds the handler a spec describes (one registry, one table: src/handlers/factory.cpp).
/// Throws std::runtime_error if it cannot be created (e.g. a file handler whose directory cannot be
/// created). The message names the key at fault relative to the handler's block and the reason,
/// e.g. "path: cannot open /var/x.jsonl: Permission denied"; the caller prefixes
/// "handlers.<name>: ", as config errors read.
std::unique_ptr<handler> make_handler(const config::handler_spec& spec);

/// Checks a spec as make_handler() would, with the same messages, but creates, opens and starts
/// nothing: what `hookd check` runs. A `file` handler's file must be writable, or its nearest
/// existing ancestor directory writable so it can be created (`check` may run as another user
/// than the daemon, e.g. root before the service starts, and must leave no root-owned file
/// behind). Throws std::runtime_error as make_handler() does.
void check_handler(const config::handler_spec& spec);

}  // namespace hookd::handlers
