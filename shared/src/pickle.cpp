// The pickle of a torch.save archive (data.pkl), parsed and never executed: a small stack machine that
// knows only the opcodes a state_dict or a checkpoint dict uses, and only the allowlisted globals, which it
// recognises by name and never calls. Read next: pytorch_read.cpp (the container), safetensors.cpp.
//
// Sections: the objects (an arena; the stack and memo hold indices, so aliasing costs nothing and cycles
// leak nothing) · globals and their allowlist · the opcodes · REDUCE of the allowlisted functions ·
// finding the state_dict (checkpoint wrappers) · copying tensors out of their storages (views, strides).
#include <algorithm>
#include <unordered_map>

#include "pytorch_internal.hpp"

namespace digitlab::pytorch::detail {
namespace {

// ---- the objects ----------------------------------------------------------------------------------------
enum class Kind : std::uint8_t { none, boolean, integer, floating, text, tuple, list, dict, global, storage, tensor };

const char* kind_name(Kind kind) {
  switch (kind) {
    case Kind::none: return "None";
    case Kind::boolean: return "a bool";
    case Kind::integer: return "an int";
    case Kind::floating: return "a float";
    case Kind::text: return "a str";
    case Kind::tuple: return "a tuple";
    case Kind::list: return "a list";
    case Kind::dict: return "a dict";
    case Kind::global: return "a class or function";
    case Kind::storage: return "a storage";
    default: return "a tensor";
  }
}

enum class Global : std::uint8_t {
  ordered_dict, rebuild_tensor_v2, rebuild_parameter, rebuild_from_type_v2, tensor_type, storage
};

struct Node {
  Kind kind = Kind::none;
  std::int64_t integer = 0;  // int, bool; Global for a global; index into storages / tensors
  double floating = 0;
  std::string text;                  // str; "module.name" for a global
  std::vector<std::uint32_t> items;  // tuple, list; dict: key, value, key, value...
  TensorDType dtype = TensorDType::float32;  // a storage class global
};

struct Storage {
  std::string key;
  TensorDType dtype = TensorDType::float32;
  std::uint64_t numel = 0;
  const zip::Entry* entry = nullptr;
};

struct TensorView {
  std::uint32_t storage = 0;
  std::uint64_t offset = 0;  // in elements
  std::vector<std::int64_t> shape, stride;
};

struct StorageClass {
  const char* name;
  TensorDType dtype;
};
constexpr StorageClass kStorageClasses[] = {{"FloatStorage", TensorDType::float32},
                                            {"HalfStorage", TensorDType::float16},
                                            {"BFloat16Storage", TensorDType::bfloat16},
                                            {"DoubleStorage", TensorDType::float64},
                                            {"LongStorage", TensorDType::int64}};

const char kResave[] =
    "In Python, load it and save the weights alone: torch.save(model.state_dict(), \"model.pth\")";

class Machine {
 public:
  Machine(ByteSpan file, const zip::Archive& archive, const std::string& root, const zip::Entry& pickle,
          const ReadLimits& limits)
      : file_(file), archive_(archive), root_(root), base_(pickle.data_offset), limits_(limits) {
    bytes_ = zip::entry_bytes(file, pickle);
  }

  Result<StateDict> run();

 private:
  // ---- errors and reading ------------------------------------------------------------------------------
  Error fail(ErrorCode code, const std::string& message) const {
    return make_error(code, "data.pkl", base_ + op_start_, message + " (data.pkl byte " + std::to_string(op_start_) + ")");
  }
  Error fail_at(ErrorCode code, std::string field, const std::string& message) const {
    return make_error(code, std::move(field), base_ + op_start_, message);
  }
  bool need(std::size_t n) const { return bytes_.size - at_ >= n; }

  // ---- the arena, the stack and the marks ----------------------------------------------------------------
  std::uint32_t add(Node node) {
    nodes_.push_back(std::move(node));
    return static_cast<std::uint32_t>(nodes_.size() - 1);
  }
  Status push(std::uint32_t index) {
    if (stack_.size() >= limits_.max_stack_depth)
      return fail(ErrorCode::over_budget, "the pickle stack grows past " + std::to_string(limits_.max_stack_depth) +
                                              " items (deep nesting); a state_dict needs a few dozen");
    stack_.push_back(index);
    return Ok{};
  }
  Status push_new(Node node) { return push(add(std::move(node))); }
  bool pop(std::uint32_t* out) {
    if (stack_.size() <= (marks_.empty() ? 0 : marks_.back())) return false;
    *out = stack_.back();
    stack_.pop_back();
    return true;
  }
  // The items above the topmost mark, removed with the mark.
  bool pop_to_mark(std::vector<std::uint32_t>* items) {
    if (marks_.empty()) return false;
    const std::size_t mark = marks_.back();
    marks_.pop_back();
    items->assign(stack_.begin() + static_cast<std::ptrdiff_t>(mark), stack_.end());
    stack_.resize(mark);
    return true;
  }
  std::size_t floor() const { return marks_.empty() ? 0 : marks_.back(); }

  Status op_global();
  Status op_reduce();
  Status op_persistent_id();
  Result<std::uint32_t> rebuild_tensor(const std::vector<std::uint32_t>& args);
  Status check_view(const TensorView& view, const std::string& name) const;
  Status copy_out(const TensorView& view, NamedTensor* out, std::uint64_t* total) const;
  Result<StateDict> extract(std::uint32_t root);

  bool is_text(std::uint32_t i) const { return nodes_[i].kind == Kind::text; }
  bool is_int(std::uint32_t i) const { return nodes_[i].kind == Kind::integer; }
  bool is_global(std::uint32_t i, Global g) const {
    return nodes_[i].kind == Kind::global && nodes_[i].integer == static_cast<std::int64_t>(g);
  }
  Result<std::vector<std::int64_t>> int_tuple(std::uint32_t i, const char* what) const;

  ByteSpan file_;
  const zip::Archive& archive_;
  const std::string& root_;
  std::uint64_t base_;
  const ReadLimits& limits_;
  ByteSpan bytes_;
  std::size_t at_ = 0, op_start_ = 0;
  std::vector<Node> nodes_;
  std::vector<std::uint32_t> stack_;
  std::vector<std::size_t> marks_;
  std::unordered_map<std::uint32_t, std::uint32_t> memo_;
  std::vector<Storage> storages_;
  std::unordered_map<std::string, std::uint32_t> storage_by_key_;
  std::vector<TensorView> views_;
};

// ---- globals: recognised by name, never imported or called ----------------------------------------------
Status Machine::op_global() {
  // "module\nname\n", each line bounded.
  std::string parts[2];
  for (std::string& part : parts) {
    const std::size_t limit = std::min<std::size_t>(bytes_.size - at_, 256);
    std::size_t n = 0;
    while (n < limit && bytes_.data[at_ + n] != '\n') ++n;
    if (n == limit)
      return fail(need(257) ? ErrorCode::bad_pickle : ErrorCode::truncated,
                  "a GLOBAL opcode's module or name is not a line of at most 255 characters");
    part.assign(reinterpret_cast<const char*>(bytes_.data + at_), n);
    at_ += n + 1;
  }
  const std::string& module = parts[0];
  const std::string& name = parts[1];
  const std::string full = module + "." + name;
  Node node;
  node.kind = Kind::global;
  node.text = full;
  bool allowed = true;
  if (module == "collections" && name == "OrderedDict") {
    node.integer = static_cast<int>(Global::ordered_dict);
  } else if (module == "torch._utils" && name == "_rebuild_tensor_v2") {
    node.integer = static_cast<int>(Global::rebuild_tensor_v2);
  } else if (module == "torch._utils" && name == "_rebuild_parameter") {
    node.integer = static_cast<int>(Global::rebuild_parameter);
  } else if (module == "torch._tensor" && name == "_rebuild_from_type_v2") {
    node.integer = static_cast<int>(Global::rebuild_from_type_v2);
  } else if ((module == "torch._tensor" || module == "torch") && name == "Tensor") {
    node.integer = static_cast<int>(Global::tensor_type);
  } else if (module == "torch.nn.parameter" && name == "Parameter") {
    node.integer = static_cast<int>(Global::tensor_type);
  } else if (module == "torch") {
    allowed = false;
    for (const StorageClass& storage : kStorageClasses)
      if (name == storage.name) {
        node.integer = static_cast<int>(Global::storage);
        node.dtype = storage.dtype;
        allowed = true;
      }
    if (!allowed && name.size() > 7 && name.compare(name.size() - 7, 7, "Storage") == 0)
      return fail_at(ErrorCode::bad_dtype, "data.pkl.global",
                     "a tensor is stored as torch." + name +
                         "; digitlab reads float32, float16, bfloat16, float64 and int64 tensors. Convert the "
                         "weights in Python (model.float()) and save model.state_dict() again");
  } else {
    allowed = false;
  }
  if (!allowed) {
    const bool module_object = module == "__main__" || module.compare(0, 8, "torch.nn") == 0 ||
                               (!name.empty() && name[0] >= 'A' && name[0] <= 'Z' && module.compare(0, 5, "torch") != 0 &&
                                module != "builtins" && module != "os" && module != "posix" && module != "subprocess");
    if (module_object)
      return fail_at(ErrorCode::forbidden_global, "data.pkl.global",
                     "the file pickles a whole Python object (" + full +
                         "), as torch.save(model) does: loading it would run that class's Python code, which "
                         "digitlab never does. " + kResave);
    return fail_at(ErrorCode::forbidden_global, "data.pkl.global",
                   "the pickle names " + full +
                       ", which is not among the globals a state_dict uses (collections.OrderedDict, "
                       "torch._utils._rebuild_tensor_v2 / _rebuild_parameter, torch.FloatStorage, HalfStorage, "
                       "BFloat16Storage, DoubleStorage, LongStorage); digitlab never runs pickled code. " + kResave);
  }
  return push_new(std::move(node));
}

// ---- storages: ('storage', StorageClass, key, location, numel) -> the entry <root>/data/<key> ------------
Status Machine::op_persistent_id() {
  std::uint32_t pid = 0;
  if (!pop(&pid)) return fail(ErrorCode::bad_pickle, "BINPERSID on an empty stack");
  const Node& id = nodes_[pid];
  if (id.kind != Kind::tuple || id.items.size() != 5 || !is_text(id.items[0]) || nodes_[id.items[0]].text != "storage")
    return fail(ErrorCode::bad_pickle,
                "a persistent id is not ('storage', class, key, location, numel), the only kind torch.save writes");
  const std::uint32_t klass = id.items[1], key = id.items[2], location = id.items[3], numel = id.items[4];
  if (!is_global(klass, Global::storage) || !is_text(key) || !is_text(location) || !is_int(numel) ||
      nodes_[numel].integer < 0)
    return fail(ErrorCode::bad_pickle,
                "a storage's persistent id does not hold a storage class, a key, a location and an element count");
  const TensorDType dtype = nodes_[klass].dtype;
  const std::string& key_text = nodes_[key].text;
  const std::uint64_t count = static_cast<std::uint64_t>(nodes_[numel].integer);
  auto known = storage_by_key_.find(key_text);
  if (known != storage_by_key_.end()) {
    const Storage& storage = storages_[known->second];
    if (storage.dtype != dtype || storage.numel != count)
      return fail(ErrorCode::bad_pickle, "storage '" + key_text + "' is named twice with different dtypes or sizes");
    Node node;
    node.kind = Kind::storage;
    node.integer = known->second;
    return push_new(std::move(node));
  }
  std::uint64_t bytes = 0;
  if (!checked_mul(count, element_size(dtype), &bytes) || bytes > limits_.max_tensor_bytes)
    return fail(ErrorCode::over_budget, "storage '" + key_text + "' holds " + std::to_string(count) + " " +
                                            tensor_dtype_name(dtype) + " elements, more than the " +
                                            std::to_string(limits_.max_tensor_bytes) + " bytes read per storage");
  const std::string entry_name = root_ + "/data/" + key_text;
  const zip::Entry* entry = archive_.find(entry_name);
  if (entry == nullptr)
    return fail(ErrorCode::bad_archive, "storage '" + key_text + "' has no entry '" + entry_name + "' in the archive");
  if (entry->size != bytes)
    return fail(ErrorCode::bad_archive, "entry '" + entry_name + "' holds " + std::to_string(entry->size) +
                                            " bytes, but its storage is " + std::to_string(count) + " " +
                                            tensor_dtype_name(dtype) + " elements (" + std::to_string(bytes) + " bytes)");
  if (storages_.size() >= limits_.max_tensors)
    return fail(ErrorCode::over_budget, "more than " + std::to_string(limits_.max_tensors) + " storages");
  storage_by_key_.emplace(key_text, static_cast<std::uint32_t>(storages_.size()));
  storages_.push_back(Storage{key_text, dtype, count, entry});
  Node node;
  node.kind = Kind::storage;
  node.integer = static_cast<std::int64_t>(storages_.size() - 1);
  return push_new(std::move(node));
}

Result<std::vector<std::int64_t>> Machine::int_tuple(std::uint32_t i, const char* what) const {
  if (nodes_[i].kind != Kind::tuple)
    return fail(ErrorCode::bad_pickle, std::string("a tensor's ") + what + " is " + kind_name(nodes_[i].kind) + ", not a tuple");
  if (nodes_[i].items.size() > limits_.max_tensor_dims)
    return fail(ErrorCode::bad_dimensions, std::string("a tensor's ") + what + " has " +
                                                std::to_string(nodes_[i].items.size()) + " dimensions; at most " +
                                                std::to_string(limits_.max_tensor_dims) + " are read");
  std::vector<std::int64_t> values;
  for (std::uint32_t item : nodes_[i].items) {
    if (!is_int(item)) return fail(ErrorCode::bad_pickle, std::string("a tensor's ") + what + " holds a non-integer");
    if (nodes_[item].integer < 0)
      return fail(ErrorCode::bad_dimensions, std::string("a tensor's ") + what + " holds the negative value " +
                                                 std::to_string(nodes_[item].integer));
    values.push_back(nodes_[item].integer);
  }
  return values;
}

// _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
Result<std::uint32_t> Machine::rebuild_tensor(const std::vector<std::uint32_t>& args) {
  if (args.size() != 6 && args.size() != 7)
    return fail(ErrorCode::bad_pickle, "_rebuild_tensor_v2 takes 6 or 7 arguments, not " + std::to_string(args.size()));
  if (nodes_[args[0]].kind != Kind::storage)
    return fail(ErrorCode::bad_pickle, "_rebuild_tensor_v2's first argument is " +
                                           std::string(kind_name(nodes_[args[0]].kind)) + ", not a storage");
  if (!is_int(args[1]) || nodes_[args[1]].integer < 0)
    return fail(ErrorCode::bad_pickle, "a tensor's storage offset is not a non-negative integer");
  TensorView view;
  view.storage = static_cast<std::uint32_t>(nodes_[args[0]].integer);
  view.offset = static_cast<std::uint64_t>(nodes_[args[1]].integer);
  Result<std::vector<std::int64_t>> shape = int_tuple(args[2], "size");
  if (!shape) return shape.error();
  Result<std::vector<std::int64_t>> stride = int_tuple(args[3], "stride");
  if (!stride) return stride.error();
  view.shape = std::move(shape.value());
  view.stride = std::move(stride.value());
  if (view.shape.size() != view.stride.size())
    return fail(ErrorCode::bad_pickle, "a tensor has " + std::to_string(view.shape.size()) + " sizes but " +
                                           std::to_string(view.stride.size()) + " strides");
  if (nodes_[args[4]].kind != Kind::boolean)
    return fail(ErrorCode::bad_pickle, "a tensor's requires_grad is not a bool");
  if (views_.size() >= limits_.max_tensors)
    return fail(ErrorCode::over_budget, "more than " + std::to_string(limits_.max_tensors) + " tensors");
  views_.push_back(std::move(view));
  Node node;
  node.kind = Kind::tensor;
  node.integer = static_cast<std::int64_t>(views_.size() - 1);
  return add(std::move(node));
}

// ---- REDUCE: only the allowlisted callables, each with the arguments torch.save gives it -----------------
Status Machine::op_reduce() {
  std::uint32_t args_index = 0, callable = 0;
  if (!pop(&args_index) || !pop(&callable)) return fail(ErrorCode::bad_pickle, "REDUCE needs a callable and its arguments");
  if (nodes_[args_index].kind != Kind::tuple) return fail(ErrorCode::bad_pickle, "REDUCE's arguments are not a tuple");
  // No allowlisted function takes more than 7 arguments; refusing bigger tuples first keeps a REDUCE O(1)
  // even when one huge tuple is fetched from the memo again and again.
  if (nodes_[args_index].items.size() > 7)
    return fail(ErrorCode::bad_pickle, "REDUCE with " + std::to_string(nodes_[args_index].items.size()) +
                                           " arguments; no function torch.save calls takes more than 7");
  const std::vector<std::uint32_t> args = nodes_[args_index].items;
  if (nodes_[callable].kind != Kind::global)
    return fail(ErrorCode::bad_pickle, "REDUCE calls " + std::string(kind_name(nodes_[callable].kind)) + ", not a known function");
  const Global global = static_cast<Global>(nodes_[callable].integer);
  switch (global) {
    case Global::ordered_dict: {
      if (!args.empty()) return fail(ErrorCode::bad_pickle, "OrderedDict() is called with arguments");
      Node node;
      node.kind = Kind::dict;
      return push_new(std::move(node));
    }
    case Global::rebuild_tensor_v2: {
      Result<std::uint32_t> tensor = rebuild_tensor(args);
      if (!tensor) return tensor.error();
      return push(tensor.value());
    }
    case Global::rebuild_parameter: {  // (tensor, requires_grad, backward_hooks)
      if (args.size() != 3 || nodes_[args[0]].kind != Kind::tensor)
        return fail(ErrorCode::bad_pickle, "_rebuild_parameter is not called with (tensor, requires_grad, hooks)");
      return push(args[0]);
    }
    case Global::rebuild_from_type_v2: {  // (function, type, arguments, state)
      if (args.size() != 4 || !is_global(args[1], Global::tensor_type) || nodes_[args[2]].kind != Kind::tuple)
        return fail(ErrorCode::bad_pickle, "_rebuild_from_type_v2 is not called with (function, Tensor type, args, state)");
      if (nodes_[args[2]].items.size() > 7)
        return fail(ErrorCode::bad_pickle, "_rebuild_from_type_v2 wraps a call with more than 7 arguments");
      const std::vector<std::uint32_t> inner = nodes_[args[2]].items;
      if (is_global(args[0], Global::rebuild_tensor_v2)) {
        Result<std::uint32_t> tensor = rebuild_tensor(inner);
        if (!tensor) return tensor.error();
        return push(tensor.value());
      }
      if (is_global(args[0], Global::rebuild_parameter) && inner.size() == 3 && nodes_[inner[0]].kind == Kind::tensor)
        return push(inner[0]);
      return fail(ErrorCode::bad_pickle, "_rebuild_from_type_v2 wraps " + nodes_[args[0]].text +
                                             ", not a tensor rebuild function");
    }
    default:
      return fail(ErrorCode::bad_pickle, "REDUCE calls " + nodes_[callable].text + ", which is not a function torch.save calls");
  }
}

// ---- the opcodes -------------------------------------------------------------------------------------------
Result<StateDict> Machine::run() {
  std::uint64_t ops = 0;
  std::vector<std::uint32_t> items;
  for (;;) {
    op_start_ = at_;
    if (!need(1)) return fail(ErrorCode::truncated, "data.pkl ends without a STOP opcode: the pickle is cut off");
    if (++ops > limits_.max_pickle_ops)
      return fail(ErrorCode::over_budget, "the pickle runs more than " + std::to_string(limits_.max_pickle_ops) + " opcodes");
    const std::uint8_t op = bytes_.data[at_++];
    Status status = Ok{};
    switch (op) {
      case 0x80: {  // PROTO
        if (!need(1)) return fail(ErrorCode::truncated, "PROTO without its version");
        const int protocol = bytes_.data[at_++];
        if (protocol < 2 || protocol > 5)
          return fail(ErrorCode::bad_pickle, "pickle protocol " + std::to_string(protocol) + " (torch.save writes 2)");
        break;
      }
      case 'c': status = op_global(); break;
      case 'q':    // BINPUT
      case 'r': {  // LONG_BINPUT
        const std::size_t width = op == 'q' ? 1 : 4;
        if (!need(width)) return fail(ErrorCode::truncated, "a memo index is cut off");
        const std::uint32_t index = width == 1 ? bytes_.data[at_] : load_u32_le(bytes_.data + at_);
        at_ += width;
        if (stack_.size() <= floor()) return fail(ErrorCode::bad_pickle, "BINPUT with nothing to store");
        if (memo_.size() >= limits_.max_memo && memo_.find(index) == memo_.end())
          return fail(ErrorCode::over_budget, "the pickle stores more than " + std::to_string(limits_.max_memo) + " memo entries");
        memo_[index] = stack_.back();
        break;
      }
      case 'h':    // BINGET
      case 'j': {  // LONG_BINGET
        const std::size_t width = op == 'h' ? 1 : 4;
        if (!need(width)) return fail(ErrorCode::truncated, "a memo index is cut off");
        const std::uint32_t index = width == 1 ? bytes_.data[at_] : load_u32_le(bytes_.data + at_);
        at_ += width;
        auto found = memo_.find(index);
        if (found == memo_.end())
          return fail(ErrorCode::bad_pickle, "BINGET of memo entry " + std::to_string(index) + ", which was never stored");
        status = push(found->second);
        break;
      }
      case '(':  // MARK
        if (marks_.size() >= limits_.max_stack_depth)
          return fail(ErrorCode::over_budget, "more than " + std::to_string(limits_.max_stack_depth) +
                                                  " open MARKs (deep nesting); a state_dict needs a few");
        marks_.push_back(stack_.size());
        break;
      case ')': {  // EMPTY_TUPLE
        Node node;
        node.kind = Kind::tuple;
        status = push_new(std::move(node));
        break;
      }
      case 't': {  // TUPLE
        if (!pop_to_mark(&items)) return fail(ErrorCode::bad_pickle, "TUPLE without a MARK");
        Node node;
        node.kind = Kind::tuple;
        node.items = items;
        status = push_new(std::move(node));
        break;
      }
      case 0x85:    // TUPLE1
      case 0x86:    // TUPLE2
      case 0x87: {  // TUPLE3
        const std::size_t n = op - 0x84u;
        if (stack_.size() - floor() < n) return fail(ErrorCode::bad_pickle, "TUPLE" + std::to_string(n) + " on a short stack");
        Node node;
        node.kind = Kind::tuple;
        node.items.assign(stack_.end() - static_cast<std::ptrdiff_t>(n), stack_.end());
        stack_.resize(stack_.size() - n);
        status = push_new(std::move(node));
        break;
      }
      case 'X':      // BINUNICODE
      case 0x8c: {   // SHORT_BINUNICODE
        const std::size_t width = op == 'X' ? 4 : 1;
        if (!need(width)) return fail(ErrorCode::truncated, "a string's length is cut off");
        const std::uint32_t length = width == 4 ? load_u32_le(bytes_.data + at_) : bytes_.data[at_];
        at_ += width;
        if (!need(length))
          return fail(ErrorCode::truncated, "a string of " + std::to_string(length) + " bytes runs past the end of data.pkl (" +
                                                std::to_string(bytes_.size - at_) + " bytes left)");
        Node node;
        node.kind = Kind::text;
        node.text.assign(reinterpret_cast<const char*>(bytes_.data + at_), length);
        at_ += length;
        status = push_new(std::move(node));
        break;
      }
      case 'K':    // BININT1
      case 'M':    // BININT2
      case 'J': {  // BININT
        const std::size_t width = op == 'K' ? 1 : op == 'M' ? 2 : 4;
        if (!need(width)) return fail(ErrorCode::truncated, "an integer is cut off");
        Node node;
        node.kind = Kind::integer;
        node.integer = width == 1   ? bytes_.data[at_]
                       : width == 2 ? load_u16_le(bytes_.data + at_)
                                    : static_cast<std::int32_t>(load_u32_le(bytes_.data + at_));
        at_ += width;
        status = push_new(std::move(node));
        break;
      }
      case 0x8a: {  // LONG1: a little-endian two's-complement integer of n bytes
        if (!need(1)) return fail(ErrorCode::truncated, "LONG1 without its length");
        const std::size_t n = bytes_.data[at_++];
        if (n > 8) return fail(ErrorCode::bad_pickle, "an integer of " + std::to_string(n) + " bytes (at most 8 are read)");
        if (!need(n)) return fail(ErrorCode::truncated, "an integer is cut off");
        std::uint64_t value = 0;
        for (std::size_t b = 0; b < n; ++b) value |= std::uint64_t(bytes_.data[at_ + b]) << (8 * b);
        if (n > 0 && n < 8 && (bytes_.data[at_ + n - 1] & 0x80)) value |= ~std::uint64_t(0) << (8 * n);
        at_ += n;
        Node node;
        node.kind = Kind::integer;
        node.integer = static_cast<std::int64_t>(value);
        status = push_new(std::move(node));
        break;
      }
      case 'G': {  // BINFLOAT: big-endian float64
        if (!need(8)) return fail(ErrorCode::truncated, "a float is cut off");
        const std::uint64_t bits = (std::uint64_t(load_u32_be(bytes_.data + at_)) << 32) | load_u32_be(bytes_.data + at_ + 4);
        at_ += 8;
        Node node;
        node.kind = Kind::floating;
        std::memcpy(&node.floating, &bits, 8);
        status = push_new(std::move(node));
        break;
      }
      case 'N': status = push_new(Node{}); break;  // NONE
      case 0x88:                                   // NEWTRUE
      case 0x89: {                                 // NEWFALSE
        Node node;
        node.kind = Kind::boolean;
        node.integer = op == 0x88;
        status = push_new(std::move(node));
        break;
      }
      case 'Q': status = op_persistent_id(); break;
      case 'R': status = op_reduce(); break;
      case '}':    // EMPTY_DICT
      case ']': {  // EMPTY_LIST
        Node node;
        node.kind = op == '}' ? Kind::dict : Kind::list;
        status = push_new(std::move(node));
        break;
      }
      case 's': {  // SETITEM
        std::uint32_t key = 0, value = 0;
        if (!pop(&value) || !pop(&key) || stack_.size() <= floor() || nodes_[stack_.back()].kind != Kind::dict)
          return fail(ErrorCode::bad_pickle, "SETITEM without a dict, a key and a value");
        nodes_[stack_.back()].items.push_back(key);
        nodes_[stack_.back()].items.push_back(value);
        break;
      }
      case 'u':    // SETITEMS
      case 'e': {  // APPENDS
        if (!pop_to_mark(&items) || stack_.size() <= floor())
          return fail(ErrorCode::bad_pickle, std::string(op == 'u' ? "SETITEMS" : "APPENDS") + " without a MARK and a container");
        Node& target = nodes_[stack_.back()];
        if (target.kind != (op == 'u' ? Kind::dict : Kind::list) || (op == 'u' && items.size() % 2 != 0))
          return fail(ErrorCode::bad_pickle, op == 'u' ? "SETITEMS on something that is not a dict, or with an odd count"
                                                       : "APPENDS on something that is not a list");
        target.items.insert(target.items.end(), items.begin(), items.end());
        break;
      }
      case 'a': {  // APPEND
        std::uint32_t value = 0;
        if (!pop(&value) || stack_.size() <= floor() || nodes_[stack_.back()].kind != Kind::list)
          return fail(ErrorCode::bad_pickle, "APPEND without a list and a value");
        nodes_[stack_.back()].items.push_back(value);
        break;
      }
      case 'b': {  // BUILD: the state_dict's {'_metadata': ...}; ignored
        std::uint32_t state = 0;
        if (!pop(&state) || stack_.size() <= floor())
          return fail(ErrorCode::bad_pickle, "BUILD without an object and its state");
        const Kind kind = nodes_[stack_.back()].kind;
        if (kind != Kind::dict && kind != Kind::tensor)
          return fail(ErrorCode::bad_pickle, std::string("BUILD on ") + kind_name(kind) + " (only an OrderedDict's metadata is accepted)");
        break;
      }
      case '.': {  // STOP
        if (!marks_.empty() || stack_.size() != 1)
          return fail(ErrorCode::bad_pickle, "STOP with " + std::to_string(stack_.size()) + " objects and " +
                                                 std::to_string(marks_.size()) + " MARKs left (expected one object)");
        if (at_ != bytes_.size)
          return fail(ErrorCode::trailing_bytes, std::to_string(bytes_.size - at_) + " bytes follow the pickle's STOP");
        return extract(stack_.back());
      }
      default: {
        static const char hex[] = "0123456789abcdef";
        std::string code = "0x";
        code += hex[op >> 4];
        code += hex[op & 15];
        if (op >= 0x20 && op < 0x7f) code += std::string(" '") + char(op) + "'";
        return fail(ErrorCode::bad_pickle, "opcode " + code +
                                               " is not one a state_dict uses; digitlab reads only those (it never "
                                               "runs pickled code). " + kResave);
      }
    }
    if (!status) return status.error();
  }
}

// ---- finding the state_dict ----------------------------------------------------------------------------------
Result<StateDict> Machine::extract(std::uint32_t root) {
  StateDict state;
  if (nodes_[root].kind == Kind::tensor)
    return fail(ErrorCode::bad_pickle, "the file holds a single tensor, not a state_dict. " + std::string(kResave));
  if (nodes_[root].kind != Kind::dict)
    return fail(ErrorCode::bad_pickle, std::string("the file holds ") + kind_name(nodes_[root].kind) +
                                           ", not a state_dict (a dict of tensors). " + kResave);
  // A checkpoint dict holds the weights under one of these keys (at most two levels deep).
  std::uint32_t chosen = root;
  for (int level = 0; level < 2; ++level) {
    bool unwrapped = false;
    for (const char* wrapper : {"model_state_dict", "state_dict", "model"}) {
      const std::vector<std::uint32_t>& items = nodes_[chosen].items;
      for (std::size_t k = 0; k + 1 < items.size(); k += 2)
        if (is_text(items[k]) && nodes_[items[k]].text == wrapper && nodes_[items[k + 1]].kind == Kind::dict) {
          state.unwrapped += std::string(state.unwrapped.empty() ? "checkpoint" : "") + "['" + wrapper + "']";
          chosen = items[k + 1];
          unwrapped = true;
          break;
        }
      if (unwrapped) break;
    }
    if (!unwrapped) break;
  }
  const std::vector<std::uint32_t> items = nodes_[chosen].items;
  std::string keys;
  for (std::size_t k = 0; k + 1 < items.size() && k < 16; k += 2)
    keys += (k ? ", " : "") + (is_text(items[k]) ? "'" + nodes_[items[k]].text + "'" : std::string(kind_name(nodes_[items[k]].kind)));
  if (items.empty())
    return fail(ErrorCode::bad_pickle, "the state_dict holds no tensors. " + std::string(kResave));
  if (items.size() / 2 > limits_.max_tensors)
    return fail(ErrorCode::over_budget, "the state_dict holds " + std::to_string(items.size() / 2) +
                                            " tensors; at most " + std::to_string(limits_.max_tensors) + " are read");
  std::uint64_t total = 0;
  for (std::size_t k = 0; k + 1 < items.size(); k += 2) {
    if (!is_text(items[k]))
      return fail(ErrorCode::bad_pickle, std::string("a state_dict key is ") + kind_name(nodes_[items[k]].kind) + ", not a name");
    const std::string& name = nodes_[items[k]].text;
    const Node& value = nodes_[items[k + 1]];
    if (value.kind != Kind::tensor)
      return fail(ErrorCode::bad_pickle,
                  "entry '" + name + "' is " + kind_name(value.kind) +
                      ", not a tensor. A checkpoint must hold its weights under 'model', 'state_dict' or "
                      "'model_state_dict' (keys seen: " + keys + "). " + kResave);
    NamedTensor tensor;
    tensor.name = name;
    const TensorView& view = views_[static_cast<std::size_t>(value.integer)];
    Status checked = check_view(view, name);
    if (!checked) return checked.error();
    Status copied = copy_out(view, &tensor, &total);
    if (!copied) return copied.error();
    state.tensors.push_back(std::move(tensor));
  }
  return state;
}

// ---- tensors out of their storages ---------------------------------------------------------------------------
Status Machine::check_view(const TensorView& view, const std::string& name) const {
  const Storage& storage = storages_[view.storage];
  std::uint64_t numel = 1, last = view.offset;
  for (std::size_t d = 0; d < view.shape.size(); ++d) {
    std::uint64_t reach = 0;
    if (!checked_mul(numel, static_cast<std::uint64_t>(view.shape[d]), &numel))
      return fail_at(ErrorCode::size_overflow, "data.pkl." + name, "tensor '" + name + "' has sizes whose product overflows");
    if (view.shape[d] > 0 && (!checked_mul(static_cast<std::uint64_t>(view.shape[d] - 1),
                                           static_cast<std::uint64_t>(view.stride[d]), &reach) ||
                              !checked_add(last, reach, &last)))
      return fail_at(ErrorCode::offset_out_of_range, "data.pkl." + name, "tensor '" + name + "' has strides whose reach overflows");
  }
  if (numel == 0 ? view.offset > storage.numel : last >= storage.numel)
    return fail_at(ErrorCode::offset_out_of_range, "data.pkl." + name,
                   "tensor '" + name + "' (offset " + std::to_string(view.offset) + ") reaches element " +
                       std::to_string(last) + " of storage '" + storage.key + "', which holds " +
                       std::to_string(storage.numel) + " elements");
  std::uint64_t bytes = 0;
  if (!checked_mul(numel, storage.dtype == TensorDType::int64 ? 8 : 4, &bytes) || bytes > limits_.max_tensor_bytes)
    return fail_at(ErrorCode::over_budget, "data.pkl." + name,
                   "tensor '" + name + "' has " + std::to_string(numel) + " elements, more than the " +
                       std::to_string(limits_.max_tensor_bytes) + " bytes read per tensor");
  return Ok{};
}

Status Machine::copy_out(const TensorView& view, NamedTensor* out, std::uint64_t* total) const {
  const Storage& storage = storages_[view.storage];
  std::uint64_t numel = 1;
  for (std::int64_t size : view.shape) numel *= static_cast<std::uint64_t>(size);  // checked in check_view
  const std::uint64_t bytes = numel * (storage.dtype == TensorDType::int64 ? 8 : 4);
  if (bytes > limits_.max_total_tensor_bytes - std::min(*total, limits_.max_total_tensor_bytes))
    return fail_at(ErrorCode::over_budget, "data.pkl." + out->name,
                   "the tensors hold more than " + std::to_string(limits_.max_total_tensor_bytes) + " bytes in all");
  *total += bytes;
  out->dtype = storage.dtype;
  out->shape = view.shape;
  const ByteSpan data = zip::entry_bytes(file_, *storage.entry);
  const std::uint32_t width = element_size(storage.dtype);
  const bool integers = storage.dtype == TensorDType::int64;
  if (integers) out->integers.resize(static_cast<std::size_t>(numel));
  else out->values.resize(static_cast<std::size_t>(numel));
  // Row-major walk over the view; each element at offset + sum(index[d] * stride[d]) (bounded above).
  const std::size_t dims = view.shape.size();
  std::vector<std::int64_t> index(dims, 0);
  std::uint64_t element = view.offset;
  for (std::uint64_t i = 0; i < numel; ++i) {
    const std::uint8_t* p = data.data + element * width;
    if (integers) out->integers[static_cast<std::size_t>(i)] = static_cast<std::int64_t>(load_u64_le(p));
    else out->values[static_cast<std::size_t>(i)] = read_float(storage.dtype, p);
    for (std::size_t d = dims; d-- > 0;) {
      if (++index[d] < view.shape[d]) {
        element += static_cast<std::uint64_t>(view.stride[d]);
        break;
      }
      element -= static_cast<std::uint64_t>(view.stride[d]) * static_cast<std::uint64_t>(view.shape[d] - 1);
      index[d] = 0;
    }
  }
  return Ok{};
}

}  // namespace

Result<StateDict> read_torch_pickle(ByteSpan file, const zip::Archive& archive, const std::string& root,
                                    const zip::Entry& pickle, const ReadLimits& limits) {
  Machine machine(file, archive, root, pickle, limits);
  return machine.run();
}

}  // namespace digitlab::pytorch::detail
