#include "schema/migration_directive.h"

#include <cctype>
#include <sstream>
#include <vector>

namespace tracker::schema {
namespace {

std::vector<std::string> words(std::string_view text) {
    std::istringstream in{std::string(text)};
    std::vector<std::string> out;
    for (std::string word; in >> word;)
        out.push_back(word);
    return out;
}

bool equalsIgnoringCase(std::string_view a, std::string_view b) {
    if (a.size() != b.size())
        return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(a[i])) !=
            std::tolower(static_cast<unsigned char>(b[i])))
            return false;
    }
    return true;
}

}  // namespace

bool isSimpleIdentifier(std::string_view name) {
    if (name.empty() || name.size() > 64)
        return false;
    for (char c : name) {
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_'))
            return false;
    }
    return true;
}

std::variant<StepKind, DirectiveError> parseDirective(std::string_view directive) {
    std::vector<std::string> w = words(directive);
    if (w.empty())
        return StepKind{PlainStep{}};
    if (w.size() == 2 && w[0] == "online" && w[1] == "rebuild")
        return StepKind{RebuildStep{}};
    if (w.size() == 6 && w[0] == "in" && w[1] == "batches" && w[2] == "of" && w[4] == "by") {
        BatchedStep step;
        unsigned long size = 0;
        std::size_t used = 0;
        try {
            size = std::stoul(w[3], &used);
        } catch (const std::exception&) {
            used = 0;
        }
        std::size_t dot = w[5].find('.');
        if (used == w[3].size() && size > 0 && size <= 1000000 && dot != std::string::npos) {
            step.size = static_cast<unsigned>(size);
            step.table = w[5].substr(0, dot);
            step.column = w[5].substr(dot + 1);
            if (isSimpleIdentifier(step.table) && isSimpleIdentifier(step.column))
                return StepKind{step};
        }
    }
    return DirectiveError{"unknown `-- migrate:` directive \"" + std::string(directive) +
                          "\" (known: \"in batches of N by TABLE.COLUMN\", \"online rebuild\")"};
}

AlterParts splitAlterTable(std::string_view statement) {
    std::istringstream in{std::string(statement)};
    std::string alter, table, name;
    in >> alter >> table >> name;
    if (!equalsIgnoringCase(alter, "ALTER") || !equalsIgnoringCase(table, "TABLE") ||
        !isSimpleIdentifier(name))
        return {};
    std::string rest;
    std::getline(in, rest, '\0');
    return AlterParts{name, rest};
}

}  // namespace tracker::schema
