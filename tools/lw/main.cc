// `lw`: the liveweight command-line tool.
//   lw build MODEL.onnx -o OUT.om [--refresh A,B,...] [--no-init] [--input-shape NAME:D0,D1,...]...
//   lw inspect FILE.om [--json]
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "liveweight/build.h"
#include "liveweight/inspect.h"

namespace {

int usage(FILE* out) {
  std::fprintf(out,
               "usage:\n"
               "  lw build MODEL.onnx -o OUT.om [--refresh NAME,NAME,...] [--no-init] [--input-shape NAME:D0,D1,...]\n"
               "      Import an ONNX model (opset 11-17) and write a bundle whose weights can be refreshed:\n"
               "      graphs [inference, weight-init, weight-update], or [inference, weight-update] with\n"
               "      --no-init. Every floating-point weight is refreshable unless --refresh lists some;\n"
               "      a BatchNormalization after a Conv folds into it when none of their tensors is listed.\n"
               "      --input-shape (repeatable) fixes an input's dims at build time (-1 keeps one dynamic).\n"
               "  lw inspect FILE.om [--json]\n"
               "      Print the graphs and Variables of a bundle or model file, and which weight version its\n"
               "      init graph holds (0: as built; N: saved by a session at version N).\n");
  return out == stderr ? 2 : 0;
}

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = s.find(',', start);
    if (end == std::string::npos) end = s.size();
    if (end > start) out.push_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

std::string dims_text(const lw::TensorSummary& t) {
  if (!t.rank_known) return "[unknown rank]";
  std::string s = "[";
  for (size_t i = 0; i < t.dims.size(); ++i) {
    if (i) s += ',';
    if (t.dims[i] < 0) {
      s += '?';
    } else {
      s += std::to_string(t.dims[i]);
    }
  }
  s += ']';
  return s;
}

int fail(const lw::Status& status) {
  std::fprintf(stderr, "lw: error: %s\n", status.message().c_str());
  return 1;
}

int cmd_build(int argc, char** argv) {
  std::string input, output;
  lw::OnnxBuildOptions options;
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-o" && i + 1 < argc) {
      output = argv[++i];
    } else if (a == "--refresh" && i + 1 < argc) {
      options.refresh = split_commas(argv[++i]);
      if (options.refresh.empty()) {
        std::fprintf(stderr, "lw build: --refresh needs at least one name\n");
        return 2;
      }
    } else if (a == "--no-init") {
      options.init = false;
    } else if (a == "--input-shape" && i + 1 < argc) {
      // NAME:D0,D1,... (the name may itself hold ':'; the dims follow the last one).
      std::string spec = argv[++i];
      size_t colon = spec.rfind(':');
      std::vector<int64_t> dims;
      bool ok = colon != std::string::npos && colon > 0;
      if (ok) {
        for (const std::string& d : split_commas(spec.substr(colon + 1))) {
          char* end = nullptr;
          errno = 0;
          long long v = std::strtoll(d.c_str(), &end, 10);
          if (errno != 0 || end == d.c_str() || *end != '\0' || v < -1) ok = false;
          dims.push_back(static_cast<int64_t>(v));
        }
      }
      if (!ok || options.input_shapes.count(spec.substr(0, colon))) {
        std::fprintf(stderr, "lw build: --input-shape '%s' must be NAME:D0,D1,... with dims >= -1, once per input\n",
                     spec.c_str());
        return 2;
      }
      options.input_shapes[spec.substr(0, colon)] = dims;
    } else if (!a.empty() && a[0] != '-' && input.empty()) {
      input = a;
    } else {
      std::fprintf(stderr, "lw build: unexpected argument '%s'\n", a.c_str());
      return usage(stderr);
    }
  }
  if (input.empty() || output.empty()) return usage(stderr);
  lw::Status st = lw::build_bundle_from_onnx(input, output, options);
  if (!st.is_ok()) return fail(st);
  auto summary = lw::inspect_model_file(output);
  if (!summary.is_ok()) return fail(summary.status());
  uint64_t weight_bytes = 0;
  for (const auto& v : summary->variables) weight_bytes += v.bytes;
  std::printf("wrote %s: %zu graphs, %zu refreshable weights (%llu bytes), %llu bytes in all\n", output.c_str(),
              summary->graphs.size(), summary->variables.size(), static_cast<unsigned long long>(weight_bytes),
              static_cast<unsigned long long>(summary->file_bytes));
  return 0;
}

int cmd_inspect(int argc, char** argv) {
  std::string path;
  bool json = false;
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--json") {
      json = true;
    } else if (!a.empty() && a[0] != '-' && path.empty()) {
      path = a;
    } else {
      std::fprintf(stderr, "lw inspect: unexpected argument '%s'\n", a.c_str());
      return usage(stderr);
    }
  }
  if (path.empty()) return usage(stderr);
  auto s = lw::inspect_model_file(path);
  if (!s.is_ok()) return fail(s.status());
  if (json) {
    std::printf("%s\n", lw::summary_to_json(*s).c_str());
    return 0;
  }
  std::printf("%s: %s, %llu bytes, producer %s\n", path.c_str(), s->is_bundle ? "bundle" : "plain model",
              static_cast<unsigned long long>(s->file_bytes), s->producer.c_str());
  if (s->weights_version == 0)
    std::printf("weights: as built (version 0)\n");
  else
    std::printf("weights: version %llu of the session that saved them\n",
                static_cast<unsigned long long>(s->weights_version));
  std::printf("graphs:\n");
  for (const auto& g : s->graphs) {
    std::printf("  [%zu] %-13s %s (%zu nodes)\n", g.index, g.role.c_str(), g.name.c_str(), g.node_count);
    for (size_t i = 0; i < g.inputs.size(); ++i)
      std::printf("      input  %zu: %s %s %s\n", i, g.inputs[i].name.c_str(), lw::dtype_name(g.inputs[i].dtype),
                  dims_text(g.inputs[i]).c_str());
    for (size_t i = 0; i < g.outputs.size(); ++i)
      std::printf("      output %zu: %s %s %s\n", i, g.outputs[i].name.c_str(), lw::dtype_name(g.outputs[i].dtype),
                  dims_text(g.outputs[i]).c_str());
  }
  std::printf("variables (%zu):\n", s->variables.size());
  for (const auto& v : s->variables) {
    lw::TensorSummary t{v.name, v.dtype, true, v.dims};
    std::printf("  %s  source=%s  %s %s  update-input=%d  %llu bytes\n", v.name.c_str(),
                v.source.empty() ? "-" : v.source.c_str(), lw::dtype_name(v.dtype), dims_text(t).c_str(), v.update_input,
                static_cast<unsigned long long>(v.bytes));
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage(stderr);
  std::string cmd = argv[1];
  if (cmd == "build") return cmd_build(argc - 2, argv + 2);
  if (cmd == "inspect") return cmd_inspect(argc - 2, argv + 2);
  if (cmd == "-h" || cmd == "--help" || cmd == "help") return usage(stdout);
  std::fprintf(stderr, "lw: unknown command '%s'\n", cmd.c_str());
  return usage(stderr);
}
