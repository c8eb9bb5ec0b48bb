// The names of the concept types this build can fit, without the types themselves: for code
// that only lists or orders them (configs, reports, help). The types: concept_type.hpp.
#pragma once

#include <string>
#include <vector>

namespace iis::concepts {

// Every concept type's name, in the registry's order.
std::vector<std::string> concept_type_names();

// The position of `name` in concept_type_names(); the count of names for an unknown one, so
// that unknown names sort last.
size_t concept_type_order(const std::string& name);

}  // namespace iis::concepts
