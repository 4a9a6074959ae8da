// `hookd events list|show|replay|stats`: queries and replay over the spool, from the CLI.

#include "events_command.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <exception>
#include <iostream>
#include <set>
#include <sstream>

#include <hookd/config/loader.hpp>
#include <hookd/core/event.hpp>
#include <hookd/core/json.hpp>

namespace hookd::cli {

namespace {

constexpr int exit_ok = 0;
constexpr int exit_failure = 1;
constexpr int exit_usage = 2;

constexpr std::string_view events_help =
    R"(usage: hookd events <list|show|replay|stats> --config FILE [options]

Looks into the spool (spool.path of FILE) and replays deliveries. Works while the daemon runs,
against the same file. `hookd events <action> --help` for each action.

actions:
  list      the newest events, with the state of their deliveries
  show ID   one event and every attempt of every delivery
  replay    make deliveries due again (ID…, or --dead)
  stats     deliveries per handler and state, oldest pending event

exit codes: 0 ok, 1 error (no spool, unknown event, SQLite error), 2 usage error
)";

constexpr std::string_view list_help =
    R"(usage: hookd events list --config FILE [--state pending|done|dead] [--endpoint E]
                         [--type GLOB] [--limit N] [--json]

Lists events, newest first: row number (SEQ), time received, endpoint, type, event id, subject,
the event's state (pending if any delivery is pending, else dead if any is dead, else done) and
its deliveries per state.

options:
  -c, --config FILE     the config file whose spool.path is read
  --state STATE         only events in this state: pending, done or dead
  --endpoint E          only events received on endpoint E
  --type GLOB           only events whose type matches GLOB (`*`, `?`, as in routes)
  --limit N             at most N events (default 50)
  --json                one JSON array instead of a table
  -h, --help            show this help

exit codes: 0 ok, 1 error, 2 usage error
)";

constexpr std::string_view show_help =
    R"(usage: hookd events show ID --config FILE [--endpoint E] [--json]

Prints the event (its CloudEvents JSON, as handlers get it) and each delivery with every attempt:
its number, start and end time, and error. ID is an event id (every event with that id, on any
endpoint, newest first; --endpoint E keeps those of endpoint E) or an event's row number (SEQ
in `events list`).

options:
  -c, --config FILE     the config file whose spool.path is read
  --endpoint E          only the event received on endpoint E
  --json                one JSON array of events, with their deliveries and attempts
  -h, --help            show this help

exit codes: 0 ok, 1 error (no such event), 2 usage error
)";

constexpr std::string_view replay_help =
    R"(usage: hookd events replay ID… --config FILE [--endpoint E] [--handler H]
       hookd events replay --dead --config FILE [--handler H]

Makes deliveries due now again, whatever their state, with a fresh retry schedule (the attempt
number keeps counting). A running daemon picks them up within about a second. Deliveries in
flight are left alone. Prints how many deliveries were made due.

ID is an event id (every event with that id, on any endpoint, unless --endpoint E) or an event's
row number (SEQ in `events list`).

options:
  -c, --config FILE     the config file whose spool.path is read
  --dead                every dead delivery instead of named events
  --handler H           only deliveries to handler H
  --endpoint E          only events received on endpoint E (with ID…)
  -h, --help            show this help

exit codes: 0 ok, 1 error (an ID names no event), 2 usage error
)";

constexpr std::string_view stats_help = R"(usage: hookd events stats --config FILE [--json]

Per handler: deliveries pending (of which in flight), done and dead, and the age of the oldest
pending event; then the totals, the number of events and of dedup keys.

options:
  -c, --config FILE     the config file whose spool.path is read
  --json                one JSON object instead of a table
  -h, --help            show this help

exit codes: 0 ok, 1 error, 2 usage error
)";

std::optional<events_action> parse_action(std::string_view s) {
  if (s == "list") return events_action::list;
  if (s == "show") return events_action::show;
  if (s == "replay") return events_action::replay;
  if (s == "stats") return events_action::stats;
  return std::nullopt;
}

const char* action_name(events_action a) {
  switch (a) {
    case events_action::list:
      return "list";
    case events_action::show:
      return "show";
    case events_action::replay:
      return "replay";
    case events_action::stats:
      return "stats";
    case events_action::none:
      break;
  }
  return "events";
}

}  // namespace

std::string_view events_usage(events_action action) {
  switch (action) {
    case events_action::list:
      return list_help;
    case events_action::show:
      return show_help;
    case events_action::replay:
      return replay_help;
    case events_action::stats:
      return stats_help;
    case events_action::none:
      break;
  }
  return events_help;
}

events_args parse_events_args(const std::vector<std::string_view>& args) {
  events_args out;
  if (args.empty()) {
    out.error = "missing action (list, show, replay or stats)";
    return out;
  }
  if (args.front() == "-h" || args.front() == "--help") {
    out.help = true;
    return out;
  }
  const auto action = parse_action(args.front());
  if (!action) {
    out.error = "unknown action '" + std::string(args.front()) + "'";
    return out;
  }
  out.action = *action;
  const auto a = *action;
  const std::string prefix = std::string(action_name(a)) + ": ";
  auto fail = [&](const std::string& what) {
    out.error = prefix + what;
    return out;
  };

  bool config_seen = false;
  bool endpoint_seen = false;
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string_view arg = args[i];
    if (arg == "-h" || arg == "--help") {
      out.help = true;
      return out;
    }
    // An option's value: `--opt VALUE` or `--opt=VALUE`.
    std::string_view name = arg;
    std::optional<std::string> inline_value;
    if (arg.starts_with("--")) {
      if (const auto eq = arg.find('='); eq != std::string_view::npos) {
        name = arg.substr(0, eq);
        inline_value = std::string(arg.substr(eq + 1));
      }
    }
    auto value = [&]() -> std::optional<std::string> {
      if (inline_value) return inline_value;
      if (i + 1 == args.size()) return std::nullopt;
      return std::string(args[++i]);
    };
    if (name == "-c" || name == "--config") {
      auto v = value();
      if (!v || v->empty()) return fail(std::string(name) + " needs a FILE");
      if (config_seen) return fail("--config given twice");
      config_seen = true;
      out.config_file = *v;
    } else if (name == "--json" && !inline_value &&
               (a == events_action::list || a == events_action::show ||
                a == events_action::stats)) {
      out.json = true;
    } else if (name == "--state" && a == events_action::list) {
      auto v = value();
      if (!v) return fail("--state needs pending, done or dead");
      const auto st = spool::parse_delivery_state(*v);
      if (!st) return fail("--state: '" + *v + "' is not pending, done or dead");
      out.filter.state = st;
    } else if (name == "--endpoint" && a != events_action::stats) {
      auto v = value();
      if (!v || v->empty()) return fail("--endpoint needs an endpoint name");
      if (endpoint_seen) return fail("--endpoint given twice");
      endpoint_seen = true;
      out.endpoint = *v;
      if (a == events_action::list) out.filter.endpoint = *v;
    } else if (name == "--type" && a == events_action::list) {
      auto v = value();
      if (!v || v->empty()) return fail("--type needs a GLOB");
      out.filter.type_glob = *v;
    } else if (name == "--limit" && a == events_action::list) {
      auto v = value();
      std::size_t n = 0;
      const char* end = v ? v->data() + v->size() : nullptr;
      if (!v || v->empty() || std::from_chars(v->data(), end, n).ptr != end || n == 0) {
        return fail("--limit needs a positive integer");
      }
      out.filter.limit = n;
    } else if (name == "--dead" && !inline_value && a == events_action::replay) {
      out.dead = true;
    } else if (name == "--handler" && a == events_action::replay) {
      auto v = value();
      if (!v || v->empty()) return fail("--handler needs a handler name");
      out.handler = *v;
    } else if (!arg.starts_with("-") && (a == events_action::show || a == events_action::replay)) {
      out.ids.emplace_back(arg);
    } else {
      return fail("unexpected argument '" + std::string(arg) + "'");
    }
  }
  if (!config_seen) return fail("missing --config FILE");
  if (a == events_action::show && out.ids.size() != 1) {
    return fail(out.ids.empty() ? "missing ID" : "takes one ID");
  }
  if (a == events_action::replay) {
    if (out.dead && !out.ids.empty()) return fail("give either ID… or --dead, not both");
    if (!out.dead && out.ids.empty()) return fail("missing ID… or --dead");
    if (out.dead && out.endpoint) return fail("--endpoint goes with ID…, not --dead");
  }
  return out;
}

namespace {

std::string age(spool::time_point since, spool::time_point now) {
  using namespace std::chrono;
  const auto s = std::max<std::int64_t>(0, duration_cast<seconds>(now - since).count());
  char buf[64];
  if (s < 60) {
    std::snprintf(buf, sizeof buf, "%llds", static_cast<long long>(s));
  } else if (s < 3600) {
    std::snprintf(buf, sizeof buf, "%lldm%02llds", static_cast<long long>(s / 60),
                  static_cast<long long>(s % 60));
  } else if (s < 86400) {
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", static_cast<long long>(s / 3600),
                  static_cast<long long>(s % 3600 / 60));
  } else {
    std::snprintf(buf, sizeof buf, "%lldd%02lldh", static_cast<long long>(s / 86400),
                  static_cast<long long>(s % 86400 / 3600));
  }
  return buf;
}

/// Values from providers may hold anything: one table cell stays on one line.
std::string cell(const std::string& s) {
  std::string out;
  for (const char c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      out += '?';
    } else {
      out += c;
    }
  }
  return out.empty() ? "-" : out;
}

void print_table(std::ostream& os, const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> widths;
  for (const auto& r : rows) {
    if (widths.size() < r.size()) widths.resize(r.size(), 0);
    for (std::size_t i = 0; i < r.size(); ++i)
      widths[i] = std::max(widths[i], r[i].size());
  }
  for (const auto& r : rows) {
    std::string line;
    for (std::size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line += std::string(widths[i] - r[i].size() + 2, ' ');
    }
    os << line << '\n';
  }
}

std::string delivery_counts(const spool::event_summary& e) {
  std::string out;
  auto add = [&](std::size_t n, const char* what) {
    if (n == 0) return;
    if (!out.empty()) out += ", ";
    out += std::to_string(n) + " " + what;
  };
  add(e.pending, "pending");
  add(e.done, "done");
  add(e.dead, "dead");
  return out.empty() ? "none" : out;
}

json summary_json(const spool::event_summary& e) {
  return json{{"seq", e.seq},
              {"received", format_time(e.received)},
              {"endpoint", e.endpoint},
              {"type", e.type},
              {"id", e.event_id},
              {"provider", e.provider},
              {"subject", e.subject},
              {"state", spool::to_string(e.state)},
              {"deliveries", {{"pending", e.pending}, {"done", e.done}, {"dead", e.dead}}}};
}

std::string dump(const json& j, int indent = 2) {
  return j.dump(indent, ' ', false, json::error_handler_t::replace);
}

int do_list(spool::store& s, const events_args& a) {
  const auto events = s.list(a.filter);
  if (a.json) {
    json arr = json::array();
    for (const auto& e : events)
      arr.push_back(summary_json(e));
    std::cout << dump(arr) << '\n';
    return exit_ok;
  }
  std::vector<std::vector<std::string>> rows{
      {"SEQ", "RECEIVED", "ENDPOINT", "TYPE", "ID", "SUBJECT", "STATE", "DELIVERIES"}};
  for (const auto& e : events) {
    rows.push_back({std::to_string(e.seq), format_time(e.received), cell(e.endpoint), cell(e.type),
                    cell(e.event_id), cell(e.subject), spool::to_string(e.state),
                    delivery_counts(e)});
  }
  print_table(std::cout, rows);
  return exit_ok;
}

/// show(key), keeping only `endpoint`'s events when given.
std::vector<spool::event_detail> find(spool::store& s, const std::string& key,
                                      const std::optional<std::string>& endpoint) {
  auto found = s.show(key);
  if (endpoint) {
    std::erase_if(found, [&](const auto& d) { return d.summary.endpoint != *endpoint; });
  }
  return found;
}

std::string no_event(const std::string& key, const std::optional<std::string>& endpoint) {
  return "no event " + key + (endpoint ? " on endpoint " + *endpoint : std::string());
}

int do_show(spool::store& s, const events_args& a) {
  const auto found = find(s, a.ids.front(), a.endpoint);
  if (found.empty()) {
    std::cerr << "hookd: events show: " << no_event(a.ids.front(), a.endpoint) << '\n';
    return exit_failure;
  }
  if (a.json) {
    json arr = json::array();
    for (const auto& ev : found) {
      json j = summary_json(ev.summary);
      j["event"] = json::parse(ev.cloudevent, nullptr, false);
      j["delivery_list"] = json::array();
      for (const auto& d : ev.deliveries) {
        json dj{{"handler", d.handler},
                {"state", spool::to_string(d.state)},
                {"attempts", d.attempts},
                {"round_attempts", d.round_attempts},
                {"next_attempt_at", format_time(d.next_attempt_at)},
                {"last_error", d.last_error},
                {"in_flight", d.claimed},
                {"updated_at", format_time(d.updated_at)},
                {"history", json::array()}};
        for (const auto& h : d.history) {
          dj["history"].push_back({{"number", h.number},
                                   {"started", format_time(h.started)},
                                   {"finished", format_time(h.finished)},
                                   {"ok", h.ok},
                                   {"error", h.error}});
        }
        j["delivery_list"].push_back(std::move(dj));
      }
      arr.push_back(std::move(j));
    }
    std::cout << dump(arr) << '\n';
    return exit_ok;
  }
  bool first = true;
  for (const auto& ev : found) {
    if (!first) std::cout << '\n';
    first = false;
    const auto& e = ev.summary;
    std::cout << "event " << cell(e.event_id) << " (seq " << e.seq << ") on " << cell(e.endpoint)
              << ", received " << format_time(e.received) << ", " << spool::to_string(e.state)
              << '\n';
    const json parsed = json::parse(ev.cloudevent, nullptr, false);
    std::cout << (parsed.is_discarded() ? ev.cloudevent : dump(parsed)) << '\n';
    if (ev.deliveries.empty()) {
      std::cout << "deliveries: none (no route matched)\n";
      continue;
    }
    std::cout << "deliveries:\n";
    for (const auto& d : ev.deliveries) {
      std::cout << "  " << cell(d.handler) << ": " << spool::to_string(d.state);
      if (d.claimed) std::cout << " (in flight)";
      std::cout << ", " << d.attempts << (d.attempts == 1 ? " attempt" : " attempts");
      if (d.round_attempts != d.attempts) {
        std::cout << " (" << d.round_attempts << " since the last replay)";
      }
      if (d.state == spool::delivery_state::pending && !d.claimed) {
        std::cout << ", next attempt " << format_time(d.next_attempt_at);
      }
      std::cout << '\n';
      for (const auto& h : d.history) {
        std::cout << "    #" << h.number << "  " << format_time(h.started) << " .. "
                  << format_time(h.finished) << "  "
                  << (h.ok ? std::string("ok") : "failed: " + cell(h.error)) << '\n';
      }
    }
  }
  return exit_ok;
}

int do_replay(spool::store& s, const events_args& a) {
  std::size_t changed = 0;
  if (a.dead) {
    changed = s.replay_dead(a.handler);
  } else {
    // Every ID must name an event before anything is replayed: a typo changes nothing.
    std::vector<std::string> keys;
    for (const auto& id : a.ids) {
      const auto found = find(s, id, a.endpoint);
      if (found.empty()) {
        std::cerr << "hookd: events replay: " << no_event(id, a.endpoint) << '\n';
        return exit_failure;
      }
      if (!a.endpoint) {
        keys.push_back(id);  // every event the spool matches, as documented
        continue;
      }
      // The spool replays by event id or row number; name each chosen event by its row number,
      // unless that number is also some other event's id (then it would replay that one too).
      for (const auto& ev : found) {
        const auto seq = std::to_string(ev.summary.seq);
        if (s.show(seq).size() != 1) {
          std::cerr << "hookd: events replay: event " << id << " on endpoint " << *a.endpoint
                    << " (seq " << seq << ") cannot be named alone: another event has id " << seq
                    << "\n";
          return exit_failure;
        }
        keys.push_back(seq);
      }
    }
    changed = s.replay(keys, a.handler);
  }
  std::cout << changed << (changed == 1 ? " delivery" : " deliveries") << " made due\n";
  return exit_ok;
}

int do_stats(spool::store& s, const events_args& a) {
  const auto st = s.stats();
  const auto now = std::chrono::system_clock::now();
  spool::handler_stats total;
  for (const auto& h : st.handlers) {
    total.pending += h.pending;
    total.done += h.done;
    total.dead += h.dead;
    total.claimed += h.claimed;
  }
  total.oldest_pending = st.oldest_pending;
  if (a.json) {
    auto one = [&](const spool::handler_stats& h) {
      json j{{"pending", h.pending}, {"in_flight", h.claimed}, {"done", h.done}, {"dead", h.dead}};
      if (h.oldest_pending) {
        j["oldest_pending"] = format_time(*h.oldest_pending);
        j["oldest_pending_age_seconds"] =
            std::chrono::duration_cast<std::chrono::seconds>(now - *h.oldest_pending).count();
      } else {
        j["oldest_pending"] = nullptr;
      }
      return j;
    };
    json handlers = json::object();
    for (const auto& h : st.handlers)
      handlers[h.handler] = one(h);
    json out{{"events", st.events},
             {"dedup_keys", st.dedup_keys},
             {"handlers", std::move(handlers)},
             {"total", one(total)}};
    std::cout << dump(out) << '\n';
    return exit_ok;
  }
  std::vector<std::vector<std::string>> rows{
      {"HANDLER", "PENDING", "IN FLIGHT", "DONE", "DEAD", "OLDEST PENDING"}};
  auto row = [&](const std::string& name, const spool::handler_stats& h) {
    rows.push_back({name, std::to_string(h.pending), std::to_string(h.claimed),
                    std::to_string(h.done), std::to_string(h.dead),
                    h.oldest_pending ? age(*h.oldest_pending, now) : "-"});
  };
  for (const auto& h : st.handlers)
    row(cell(h.handler), h);
  row("total", total);
  print_table(std::cout, rows);
  std::cout << "events: " << st.events << ", dedup keys: " << st.dedup_keys << '\n';
  return exit_ok;
}

}  // namespace

int events_command(const std::vector<std::string_view>& args) {
  const auto a = parse_events_args(args);
  if (a.help) {
    std::cout << events_usage(a.action);
    return exit_ok;
  }
  if (!a.error.empty()) {
    std::cerr << "hookd: events " << a.error << "\nTry 'hookd events "
              << (a.action == events_action::none ? "" : std::string(action_name(a.action)) + " ")
              << "--help'.\n";
    return exit_usage;
  }
  config::config cfg;
  try {
    // Only spool.path is needed: credentials are checked for their form but not read, so an
    // operator without the daemon's environment or secret files can still inspect the spool.
    cfg = config::load_file(a.config_file, config::credentials::skip);
  } catch (const config::config_error& e) {
    for (const auto& p : e.problems())
      std::cerr << p << '\n';
    return exit_failure;
  } catch (const std::exception& e) {
    std::cerr << a.config_file << ": " << e.what() << '\n';
    return exit_failure;
  }
  try {
    spool::options o;
    o.path = cfg.spool.path;
    o.mode = spool::role::client;
    // Looking needs only read access; a replay writes.
    o.read_only = a.action != events_action::replay;
    o.dedup_window = cfg.spool.dedup_window;
    o.retention = cfg.spool.retention;
    spool::store s(std::move(o));
    switch (a.action) {
      case events_action::list:
        return do_list(s, a);
      case events_action::show:
        return do_show(s, a);
      case events_action::replay:
        return do_replay(s, a);
      case events_action::stats:
        return do_stats(s, a);
      case events_action::none:
        break;
    }
  } catch (const std::exception& e) {
    std::cerr << "hookd: events " << action_name(a.action) << ": " << e.what() << '\n';
    return exit_failure;
  }
  return exit_usage;
}

}  // namespace hookd::cli
