#pragma once

#include <string>

#include <hookd/core/event.hpp>

namespace hookd::test {

/// An Altoviz customer.created event, as the providers module would normalize it.
inline event sample_event(std::string id = "1233") {
  using namespace std::chrono_literals;
  event e;
  e.id = std::move(id);
  e.source = "hookd/altoviz";
  e.type = "customer.created";
  e.subject = "370";
  e.time = std::chrono::system_clock::time_point{1795341600s + 123ms};
  e.provider = "altoviz";
  e.endpoint = "altoviz";
  e.entity = "customer";
  e.action = "created";
  e.providertype = "CustomerCreated";
  e.data = json::parse(R"({"id":370,"companyName":"Auchan","email":"secret@example.com"})");
  return e;
}

}  // namespace hookd::test
