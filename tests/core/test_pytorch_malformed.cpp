// PyTorch files that must NOT load, built here byte by byte: broken ZIP containers, pickles that are
// malformed or abusive, forbidden globals, bad views and dtypes, bad .safetensors. Each case has its own
// error code and a phrase the message must contain. Read next: test_pytorch_reader.cpp, tests/fuzz/fuzz_pytorch.cpp.
#include <catch2/catch.hpp>
#include <functional>

#include "digitlab/pytorch.hpp"
#include "test_pytorch_util.hpp"

using namespace pytorch_test;
using digitlab::pytorch::ReadLimits;
using digitlab::pytorch::StateDict;
using digitlab::pytorch::read_state_dict;

namespace {

struct Case {
  std::string what;
  std::function<std::vector<std::uint8_t>()> bytes;
  ErrorCode code;
  std::string phrase;  // the message (or field) must contain it
  std::function<void(ReadLimits&)> limits = nullptr;
};

std::vector<std::uint8_t> archive_of(const std::vector<TensorSpec>& tensors) {
  return tiny_archive_with(state_dict_pickle(tensors));
}

// A tiny archive whose pickle is `body` after the OrderedDict preamble (memo 0 = OrderedDict).
std::vector<std::uint8_t> archive_with_pickle(const std::function<void(PickleWriter&)>& body) {
  PickleWriter w = state_dict_start();
  body(w);
  return tiny_archive_with(w.bytes);
}

// A valid tiny state_dict whose root dict is built by `items` between MARK and SETITEMS.
std::vector<std::uint8_t> archive_with_items(const std::function<void(PickleWriter&)>& items) {
  return archive_with_pickle([&](PickleWriter& w) {
    w.mark();
    items(w);
    w.op('u').op('.');
  });
}

std::vector<std::uint8_t> with_edit(std::vector<std::uint8_t> bytes, const std::function<void(std::vector<std::uint8_t>&)>& edit) {
  edit(bytes);
  return bytes;
}

std::vector<std::uint8_t> safetensors(const std::string& header, std::size_t data_bytes) {
  std::string file(8, '\0');
  for (int b = 0; b < 8; ++b) file[b] = char(std::uint64_t(header.size()) >> (8 * b));
  file += header;
  file.append(data_bytes, '\0');
  return std::vector<std::uint8_t>(file.begin(), file.end());
}

std::vector<std::uint8_t> text_bytes(const std::string& s) { return std::vector<std::uint8_t>(s.begin(), s.end()); }

std::vector<Case> cases() {
  const TensorSpec w = tiny_tensors()[0];
  std::vector<Case> list;
  auto add = [&](std::string what, std::function<std::vector<std::uint8_t>()> bytes, ErrorCode code, std::string phrase,
                 std::function<void(ReadLimits&)> limits = nullptr) {
    list.push_back(Case{std::move(what), std::move(bytes), code, std::move(phrase), std::move(limits)});
  };
  // ---- the file as a whole ---------------------------------------------------------------------------------
  add("an empty file", [] { return std::vector<std::uint8_t>{}; }, ErrorCode::truncated, "empty");
  add("a file over max_file_bytes", [] { return tiny_archive(); }, ErrorCode::over_budget, "at most",
      [](ReadLimits& l) { l.max_file_bytes = 100; });
  add("a PNG image", [] { return text_bytes("\x89PNG\r\n\x1a\nabcdefgh"); }, ErrorCode::wrong_file_kind, "PNG");
  add("a digitlab weights file", [] { return text_bytes("\x89" "DLW\r\n\x1a\n0123456789"); }, ErrorCode::wrong_file_kind, ".dlw");
  add("a bare pickle", [] { return state_dict_pickle(tiny_tensors()); }, ErrorCode::wrong_file_kind, "bare pickle");
  add("a legacy (pre-1.6) torch.save file", [] { return text_bytes("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.rest"); },
      ErrorCode::bad_version, "legacy format");
  add("an empty ZIP", [] { return text_bytes(std::string("PK\x05\x06", 4) + std::string(18, '\0')); }, ErrorCode::bad_archive, "empty ZIP");
  // ---- the ZIP container -----------------------------------------------------------------------------------
  add("a local header and nothing else", [] { return text_bytes(std::string("PK\x03\x04", 4) + std::string(40, 'x')); },
      ErrorCode::truncated, "end-of-central-directory");
  add("the archive cut short by 30 bytes", [] {
        std::vector<std::uint8_t> b = tiny_archive();
        b.resize(b.size() - 30);
        return b;
      }, ErrorCode::truncated, "cut off");
  add("a flipped bit in a storage (CRC-32)", [] { return with_edit(tiny_archive(), [](auto& b) { b[data_start(b, 1) + 2] ^= 0x10; }); },
      ErrorCode::checksum_mismatch, "'t/data/0'");
  add("a deflate-compressed entry", [] {
        return with_edit(tiny_archive(), [](auto& b) { set16(b, central(b, 1) + 10, 8), set16(b, local(b, 1) + 8, 8); });
      }, ErrorCode::bad_archive, "compressed (method 8, deflate)");
  add("an encrypted entry", [] { return with_edit(tiny_archive(), [](auto& b) { b[central(b, 2) + 8] |= 1; }); },
      ErrorCode::bad_archive, "encrypted");
  add("a stored entry whose compressed size differs", [] {
        return with_edit(tiny_archive(), [](auto& b) { set32(b, central(b, 1) + 20, 23); });
      }, ErrorCode::bad_archive, "compressed size (23)");
  add("a local header past the central directory", [] {
        return with_edit(tiny_archive(), [](auto& b) { set32(b, central(b, 2) + 42, std::uint32_t(b.size() - 10)); });
      }, ErrorCode::offset_out_of_range, "local header at byte");
  add("an entry's data running into the central directory", [] {
        return with_edit(tiny_archive(), [](auto& b) {
          const std::size_t c = central(b, 3);
          set32(b, c + 20, 5000), set32(b, c + 24, 5000);
        });
      }, ErrorCode::offset_out_of_range, "runs past the start of the central directory");
  add("two entries sharing bytes", [] {
        return with_edit(tiny_archive(), [](auto& b) {
          const std::size_t c = central(b, 1);
          const std::uint32_t size = std::uint32_t(local(b, 2) - data_start(b, 1) + 8);
          set32(b, c + 20, size), set32(b, c + 24, size);
        });
      }, ErrorCode::overlapping, "overlap");
  add("a central entry pointing at another entry's local header", [] {
        return with_edit(tiny_archive(), [](auto& b) { set32(b, central(b, 2) + 42, std::uint32_t(local(b, 1))); });
      }, ErrorCode::bad_archive, "names another file");
  add("a local header without its signature", [] { return with_edit(tiny_archive(), [](auto& b) { b[local(b, 1)] = 'X'; }); },
      ErrorCode::bad_archive, "no local header signature");
  add("a local header whose method differs", [] { return with_edit(tiny_archive(), [](auto& b) { set16(b, local(b, 1) + 8, 12); }); },
      ErrorCode::bad_archive, "disagrees with the central directory on its method");
  add("a central header without its signature", [] { return with_edit(tiny_archive(), [](auto& b) { b[central(b, 1)] = 'X'; }); },
      ErrorCode::bad_archive, "no central-directory header signature");
  add("a local header whose CRC disagrees (no data descriptor)", [] {
        return with_edit(tiny_archive(), [](auto& b) {
          set16(b, central(b, 3) + 8, 0), set16(b, local(b, 3) + 6, 0);  // bit 3 off: the local CRC must be real
        });
      }, ErrorCode::bad_archive, "on its CRC or sizes");
  add("two entries with one name", [] {
        std::vector<zip::WriteEntry> entries = tiny_entries(state_dict_pickle(tiny_tensors()));
        entries.push_back(entries[1]);
        return zip::write_archive(entries);
      }, ErrorCode::bad_archive, "two entries named 't/data/0'");
  add("an entry named with '..'", [] {
        std::vector<zip::WriteEntry> entries = tiny_entries(state_dict_pickle(tiny_tensors()));
        entries.push_back({"t/../../etc/passwd", {'x'}});
        return zip::write_archive(entries);
      }, ErrorCode::bad_archive, "not a plain relative path");
  add("more entries than the limit", [] {
        std::vector<zip::WriteEntry> entries = tiny_entries(state_dict_pickle(tiny_tensors()));
        for (int k = 0; k < 70; ++k) entries.push_back({"t/extra/" + std::to_string(k), {}});
        return zip::write_archive(entries, 1);
      }, ErrorCode::over_budget, "entries; at most 64", [](ReadLimits& l) { l.max_tensors = 0; });
  add("an entry count the central directory cannot hold", [] {
        return with_edit(tiny_archive(), [](auto& b) {
          const std::size_t z = classic_end(b) - 20 - 56;  // the Zip64 end record
          set16(b, classic_end(b) + 8, 0xFFFF), set16(b, classic_end(b) + 10, 0xFFFF);
          set32(b, z + 24, 900), set32(b, z + 32, 900);
        });
      }, ErrorCode::bad_archive, "do not fit");
  add("classic and Zip64 end records that disagree", [] {
        return with_edit(tiny_archive(), [](auto& b) { set16(b, classic_end(b) + 10, 3); });
      }, ErrorCode::bad_archive, "disagree");
  add("a Zip64 locator pointing past itself", [] {
        return with_edit(tiny_archive(), [](auto& b) { set32(b, classic_end(b) - 20 + 8, std::uint32_t(b.size())); });
      }, ErrorCode::offset_out_of_range, "Zip64 locator points");
  add("a Zip64 locator pointing at no record", [] {
        return with_edit(tiny_archive(), [](auto& b) { set32(b, classic_end(b) - 20 + 8, 0); });
      }, ErrorCode::bad_archive, "no Zip64 end record");
  add("a central directory past the end of the file", [] {
        return with_edit(tiny_archive(), [](auto& b) {
          set32(b, classic_end(b) - 20 - 56 + 48, 0x7FFFFFF0), set32(b, classic_end(b) + 16, 0x7FFFFFF0);
        });
      }, ErrorCode::offset_out_of_range, "does not lie before the end record");
  add("saturated sizes without a Zip64 extra field", [] {
        return with_edit(tiny_archive(), [](auto& b) { set32(b, central(b, 1) + 24, 0xFFFFFFFFu); });
      }, ErrorCode::bad_archive, "no Zip64 extra field");
  add("an entry outside the root folder", [] {
        std::vector<zip::WriteEntry> entries = tiny_entries(state_dict_pickle(tiny_tensors()));
        entries.push_back({"other/file", {'x'}});
        return zip::write_archive(entries);
      }, ErrorCode::bad_archive, "two root folders");
  add("an entry at the top level", [] { return zip::write_archive({{"data.pkl", state_dict_pickle(tiny_tensors())}}); },
      ErrorCode::bad_archive, "not inside a folder");
  add("no data.pkl", [] { return zip::write_archive({{"t/data/0", floats(6, 1.f)}}); }, ErrorCode::bad_archive, "no 't/data.pkl'");
  add("a TorchScript archive", [] { return zip::write_archive({{"t/constants.pkl", {'.'}}, {"t/code/m.py", {'x'}}}); },
      ErrorCode::bad_archive, "TorchScript");
  add("byteorder 'big'", [] {
        std::vector<zip::WriteEntry> entries = tiny_entries(state_dict_pickle(tiny_tensors()));
        entries.push_back({"t/byteorder", {'b', 'i', 'g'}});
        return zip::write_archive(entries);
      }, ErrorCode::bad_archive, "big-endian");
  // ---- the pickle: opcodes, lengths, memo, nesting, budgets -------------------------------------------------
  add("an opcode outside the list (STACK_GLOBAL)", [] { return archive_with_pickle([](PickleWriter& w) { w.op(0x93); }); },
      ErrorCode::bad_pickle, "opcode 0x93");
  add("INST, an opcode that calls a class", [] { return archive_with_pickle([](PickleWriter& w) { w.op('i').raw("os\nsystem\n"); }); },
      ErrorCode::bad_pickle, "opcode 0x69 'i'");
  add("pickle protocol 1", [] { return tiny_archive_with(PickleWriter().proto(1).bytes); }, ErrorCode::bad_pickle, "protocol 1");
  add("a pickle without STOP", [] {
        std::vector<std::uint8_t> p = state_dict_pickle(tiny_tensors());
        p.pop_back();
        return tiny_archive_with(p);
      }, ErrorCode::truncated, "without a STOP");
  add("bytes after STOP", [] {
        std::vector<std::uint8_t> p = state_dict_pickle(tiny_tensors());
        p.push_back('N');
        return tiny_archive_with(p);
      }, ErrorCode::trailing_bytes, "follow the pickle's STOP");
  add("STOP with two objects on the stack", [] { return archive_with_pickle([](PickleWriter& w) { w.op('N').op('.'); }); },
      ErrorCode::bad_pickle, "STOP with 2 objects");
  add("a string length past the end", [] { return archive_with_pickle([](PickleWriter& w) { w.op('X').u32(0x7FFFFFFF).raw("abc"); }); },
      ErrorCode::truncated, "2147483647 bytes runs past the end");
  add("a GLOBAL line without its newline", [] { return archive_with_pickle([](PickleWriter& w) { w.op('c').raw(std::string(300, 'a')); }); },
      ErrorCode::bad_pickle, "at most 255 characters");
  add("BINGET of a memo entry never stored", [] { return archive_with_pickle([](PickleWriter& w) { w.get(77); }); },
      ErrorCode::bad_pickle, "memo entry 77, which was never stored");
  add("LONG_BINGET of a huge memo index", [] { return archive_with_pickle([](PickleWriter& w) { w.op('j').u32(0xFFFFFFFFu); }); },
      ErrorCode::bad_pickle, "memo entry 4294967295");
  add("memo abuse: more memo entries than the limit", [] {
        return archive_with_pickle([](PickleWriter& w) {
          for (std::uint32_t k = 0; k < 300; ++k) w.put(1000 + k);
        });
      }, ErrorCode::over_budget, "memo entries", [](ReadLimits& l) { l.max_memo = 100; });
  add("BINPUT with an empty stack", [] { return tiny_archive_with(PickleWriter().proto().put(3).bytes); },
      ErrorCode::bad_pickle, "BINPUT with nothing");
  add("deep nesting: 20000 MARKs", [] {
        return archive_with_pickle([](PickleWriter& w) {
          for (int k = 0; k < 20000; ++k) w.mark();
        });
      }, ErrorCode::over_budget, "open MARKs");
  add("deep nesting: 20000 lists on the stack", [] {
        return archive_with_pickle([](PickleWriter& w) {
          for (int k = 0; k < 20000; ++k) w.op(']');
        });
      }, ErrorCode::over_budget, "pickle stack grows past");
  add("more opcodes than the limit", [] {
        return archive_with_pickle([](PickleWriter& w) {
          for (int k = 0; k < 2000; ++k) w.op('N').put(5);
        });
      }, ErrorCode::over_budget, "more than 1000 opcodes", [](ReadLimits& l) { l.max_pickle_ops = 1000; });
  add("an integer of 9 bytes", [] { return archive_with_pickle([](PickleWriter& w) { w.op(0x8a).op(9).raw("123456789"); }); },
      ErrorCode::bad_pickle, "at most 8");
  add("TUPLE without MARK", [] { return tiny_archive_with(PickleWriter().proto().op('t').bytes); }, ErrorCode::bad_pickle, "TUPLE without a MARK");
  add("SETITEMS on a list", [] { return tiny_archive_with(PickleWriter().proto().op(']').mark().op('N').op('N').op('u').bytes); },
      ErrorCode::bad_pickle, "SETITEMS on something that is not a dict");
  add("SETITEMS with an odd count", [] { return archive_with_items([](PickleWriter& w) { w.text("k"); }); },
      ErrorCode::bad_pickle, "odd count");
  add("BUILD on a string", [] { return tiny_archive_with(PickleWriter().proto().text("x").op('}').op('b').bytes); },
      ErrorCode::bad_pickle, "BUILD on a str");
  // ---- globals --------------------------------------------------------------------------------------------
  add("os.system", [] { return archive_with_pickle([](PickleWriter& w) { w.global("os", "system"); }); },
      ErrorCode::forbidden_global, "os.system, which is not among the globals");
  add("builtins.eval", [] { return archive_with_pickle([](PickleWriter& w) { w.global("builtins", "eval"); }); },
      ErrorCode::forbidden_global, "builtins.eval");
  add("a whole module: __main__.NeuralNetwork", [] { return archive_with_pickle([](PickleWriter& w) { w.global("__main__", "NeuralNetwork"); }); },
      ErrorCode::forbidden_global, "torch.save(model.state_dict(), \"model.pth\")");
  add("a whole module: torch.nn.modules.linear.Linear", [] {
        return archive_with_pickle([](PickleWriter& w) { w.global("torch.nn.modules.linear", "Linear"); });
      }, ErrorCode::forbidden_global, "whole Python object (torch.nn.modules.linear.Linear)");
  add("numpy's array reconstruction", [] {
        return archive_with_pickle([](PickleWriter& w) { w.global("numpy.core.multiarray", "_reconstruct"); });
      }, ErrorCode::forbidden_global, "numpy.core.multiarray._reconstruct");
  add("an int32 storage (torch.IntStorage)", [] {
        TensorSpec t = tiny_tensors()[0];
        t.storage_class = "IntStorage";
        return archive_of({t});
      }, ErrorCode::bad_dtype, "torch.IntStorage");
  add("REDUCE of a storage class", [] {
        return archive_with_pickle([](PickleWriter& w) { w.global("torch", "FloatStorage").op(')').op('R'); });
      }, ErrorCode::bad_pickle, "REDUCE calls torch.FloatStorage");
  add("REDUCE of a string", [] { return archive_with_pickle([](PickleWriter& w) { w.text("f").op(')').op('R'); }); },
      ErrorCode::bad_pickle, "REDUCE calls a str");
  add("REDUCE with a huge argument tuple", [] {
        return archive_with_pickle([](PickleWriter& w) {
          w.get(0).mark();
          for (int k = 0; k < 5000; ++k) w.op('N');
          w.op('t').op('R');
        });
      }, ErrorCode::bad_pickle, "REDUCE with 5000 arguments");
  add("OrderedDict called with arguments", [] {
        return archive_with_pickle([](PickleWriter& w) { w.get(0).mark().op('N').op('t').op('R'); });
      }, ErrorCode::bad_pickle, "OrderedDict() is called with arguments");
  // ---- storages and views ---------------------------------------------------------------------------------
  add("a persistent id that is not a storage tuple", [] { return archive_with_pickle([](PickleWriter& w) { w.text("x").op('Q'); }); },
      ErrorCode::bad_pickle, "persistent id is not ('storage'");
  add("a storage whose entry is missing", [] {
        TensorSpec t = tiny_tensors()[0];
        t.key = "9";
        return archive_of({t});
      }, ErrorCode::bad_archive, "no entry 't/data/9'");
  add("a storage whose entry has the wrong size", [] {
        TensorSpec t = tiny_tensors()[0];
        t.numel = 5;
        t.shape = {5};
        t.stride = {1};
        return archive_of({t});
      }, ErrorCode::bad_archive, "holds 24 bytes, but its storage is 5 float32 elements");
  add("a storage larger than max_tensor_bytes", [] { return tiny_archive(); }, ErrorCode::over_budget, "bytes read per storage",
      [](ReadLimits& l) { l.max_tensor_bytes = 16; });
  add("one storage named with two dtypes", [] {
        TensorSpec a = tiny_tensors()[0], b = a;
        b.name = "w2";
        b.storage_class = "LongStorage";
        b.numel = 3;
        return archive_of({a, b});
      }, ErrorCode::bad_pickle, "named twice with different dtypes");
  add("a view past its storage (offset)", [] {
        TensorSpec t = tiny_tensors()[0];
        t.offset = 1;
        return archive_of({t});
      }, ErrorCode::offset_out_of_range, "reaches element 6 of storage '0', which holds 6");
  add("a view past its storage (strides)", [] {
        TensorSpec t = tiny_tensors()[0];
        t.stride = {4, 1};
        return archive_of({t});
      }, ErrorCode::offset_out_of_range, "reaches element 6");
  add("an empty view past its storage", [] {
        TensorSpec t = tiny_tensors()[0];
        t.shape = {0, 3};
        t.offset = 7;
        return archive_of({t});
      }, ErrorCode::offset_out_of_range, "(offset 7)");
  add("a stride whose reach overflows", [] {
        TensorSpec t = tiny_tensors()[0];
        t.stride = {INT64_MAX, 1};
        t.shape = {3, 3};
        return archive_of({t});
      }, ErrorCode::offset_out_of_range, "reach overflows");
  add("a negative size", [] {
        TensorSpec t = tiny_tensors()[0];
        t.shape = {-2, 3};
        return archive_of({t});
      }, ErrorCode::bad_dimensions, "negative value -2");
  add("sizes whose product overflows", [] {
        TensorSpec t = tiny_tensors()[0];
        t.shape = {1ll << 40, 1ll << 40};
        t.stride = {0, 0};
        return archive_of({t});
      }, ErrorCode::size_overflow, "product overflows");
  add("a broadcast view too large to copy out", [] {
        TensorSpec t = tiny_tensors()[0];
        t.shape = {1 << 20, 1 << 10};
        t.stride = {0, 0};
        return archive_of({t});
      }, ErrorCode::over_budget, "bytes read per tensor", [](ReadLimits& l) { l.max_tensor_bytes = 1 << 20; });
  add("tensors larger in all than max_total_tensor_bytes", [] { return tiny_archive(); }, ErrorCode::over_budget, "in all",
      [](ReadLimits& l) { l.max_total_tensor_bytes = 30; });
  add("17 dimensions", [] {
        TensorSpec t = tiny_tensors()[0];
        t.shape = std::vector<std::int64_t>(17, 1);
        t.stride = std::vector<std::int64_t>(17, 1);
        return archive_of({t});
      }, ErrorCode::bad_dimensions, "17 dimensions");
  add("sizes and strides of different lengths", [] {
        TensorSpec t = tiny_tensors()[0];
        t.stride = {1};
        return archive_of({t});
      }, ErrorCode::bad_pickle, "2 sizes but 1 strides");
  add("_rebuild_tensor_v2 with 3 arguments", [] {
        return archive_with_pickle([](PickleWriter& w) {
          w.global("torch._utils", "_rebuild_tensor_v2").mark().op('N').op('N').op('N').op('t').op('R');
        });
      }, ErrorCode::bad_pickle, "6 or 7 arguments, not 3");
  add("_rebuild_tensor_v2 of a string, not a storage", [] {
        return archive_with_pickle([](PickleWriter& w) {
          w.global("torch._utils", "_rebuild_tensor_v2").mark().text("s").integer(0).int_tuple({1}).int_tuple({1});
          w.op(0x89).get(0).op(')').op('R').op('t').op('R');
        });
      }, ErrorCode::bad_pickle, "first argument is a str, not a storage");
  // ---- what the pickle holds -------------------------------------------------------------------------------
  add("a list at the top", [] { return tiny_archive_with(PickleWriter().proto().op(']').op('.').bytes); },
      ErrorCode::bad_pickle, "holds a list, not a state_dict");
  add("a single tensor at the top", [] {
        PickleWriter w;  // torch.save(tensor)
        w.proto().global("torch._utils", "_rebuild_tensor_v2").mark();
        w.mark().text("storage").global("torch", "FloatStorage").text("0").text("cpu").integer(6).op('t').op('Q');
        w.integer(0).int_tuple({6}).int_tuple({1}).op(0x89).global("collections", "OrderedDict").op(')').op('R');
        w.op('t').op('R').op('.');
        return tiny_archive_with(w.bytes);
      }, ErrorCode::bad_pickle, "a single tensor, not a state_dict");
  add("POP, an opcode a state_dict does not use", [] { return archive_with_pickle([](PickleWriter& w) { w.op('0'); }); },
      ErrorCode::bad_pickle, "opcode 0x30");
  add("an empty state_dict", [] { return archive_with_items([](PickleWriter&) {}); }, ErrorCode::bad_pickle, "no tensors");
  add("a checkpoint without a known weights key", [] {
        return archive_with_items([](PickleWriter& w) {
          w.text("epoch").integer(3).text("weights");
          write_tensor(w, tiny_tensors()[0]);
        });
      }, ErrorCode::bad_pickle, "entry 'epoch' is an int, not a tensor");
  add("a state_dict key that is not a string", [] {
        return archive_with_items([](PickleWriter& w) {
          w.integer(4);
          write_tensor(w, tiny_tensors()[0]);
        });
      }, ErrorCode::bad_pickle, "key is an int");
  add("two names equal once 'module.' is removed", [] {
        TensorSpec a = tiny_tensors()[0], b = a;
        a.name = "module.w";
        b.name = "module.w";
        return archive_of({a, b});
      }, ErrorCode::bad_pickle, "'w' appears twice");
  // ---- .safetensors ----------------------------------------------------------------------------------------
  add("safetensors: an int32 tensor", [] { return safetensors("{\"a\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8); },
      ErrorCode::bad_dtype, "dtype I32");
  add("safetensors: offsets past the data", [] { return safetensors("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4); },
      ErrorCode::offset_out_of_range, "outside the 4 data bytes");
  add("safetensors: a size that does not match the shape", [] {
        return safetensors("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8);
      }, ErrorCode::shape_mismatch, "need 12");
  add("safetensors: two tensors sharing bytes", [] {
        return safetensors("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                           "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8);
      }, ErrorCode::overlapping, "share the bytes");
  add("safetensors: begin after end", [] { return safetensors("{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,4]}}", 8); },
      ErrorCode::offset_out_of_range, "[8, 4]");
  add("safetensors: a field missing", [] { return safetensors("{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8); },
      ErrorCode::bad_value, "lacks dtype, shape or data_offsets");
  add("safetensors: a fractional shape", [] { return safetensors("{\"a\":{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,8]}}", 8); },
      ErrorCode::bad_value, "not a fraction");
  add("safetensors: garbage after the header", [] { return safetensors("{}  x", 0); }, ErrorCode::bad_value, "after the header's closing");
  add("safetensors: no tensors (found by fuzz_pytorch)", [] { return safetensors("{\"__metadata__\":{}}", 0); },
      ErrorCode::bad_value, "holds no tensors");
  add("safetensors: an unclosed string", [] { return safetensors("{\"abc", 0); }, ErrorCode::bad_value, "not closed");
  add("safetensors: metadata that is not strings", [] { return safetensors("{\"__metadata__\":{\"a\":1}}", 0); },
      ErrorCode::bad_value, "expected a string");
  add("safetensors: a header length past the file", [] {
        std::vector<std::uint8_t> b = safetensors("{}", 0);
        b[0] = 200;
        return b;
      }, ErrorCode::wrong_file_kind, "not a PyTorch file");
  return list;
}

}  // namespace

TEST_CASE("the tiny archive the malformed cases edit is valid", "[pytorch]") {
  Result<StateDict> read = read_state_dict(tiny_archive());
  REQUIRE(read.ok());
  const StateDict& state = read.value();
  REQUIRE(state.tensors.size() == 2);
  CHECK(state.root == "t");
  CHECK(state.tensors[0].name == "w");
  CHECK(state.tensors[0].shape == std::vector<std::int64_t>{2, 3});
  CHECK(state.tensors[0].values == std::vector<float>{1.f, 1.5f, 2.f, 2.5f, 3.f, 3.5f});
  CHECK(state.tensors[1].values == std::vector<float>{-1.f, -0.5f, 0.f});
  // The resealing helper leaves a valid archive valid (the fuzzer relies on it).
  std::vector<std::uint8_t> bytes = tiny_archive();
  zip::reseal_crcs(bytes);
  CHECK(bytes == tiny_archive());
}

TEST_CASE("malformed PyTorch files: each gets its own error code and a message naming what is wrong", "[pytorch]") {
  const std::vector<Case> all = cases();
  CHECK(all.size() >= 40);
  int failures = 0;
  for (const Case& c : all) {
    ReadLimits limits;
    if (c.limits) c.limits(limits);
    const std::vector<std::uint8_t> bytes = c.bytes();
    Result<StateDict> read = read_state_dict(bytes, limits);
    if (read.ok()) {
      ++failures;
      FAIL_CHECK(c.what << ": read without an error (" << read.value().tensors.size() << " tensors)");
      continue;
    }
    const Error& e = read.error();
    const bool code_ok = e.code == c.code;
    const bool phrase_ok = (e.message + " " + e.field).find(c.phrase) != std::string::npos;
    if (!code_ok || !phrase_ok) {
      ++failures;
      FAIL_CHECK(c.what << ": expected " << error_code_name(c.code) << " with \"" << c.phrase << "\", got "
                        << e.to_string());
    }
    CHECK(e.offset <= bytes.size());
  }
  INFO(all.size() << " cases");
  CHECK(failures == 0);
}

TEST_CASE("every truncation of a valid archive is an error, never a crash", "[pytorch]") {
  const std::vector<std::uint8_t> full = tiny_archive();
  int loaded = 0;
  for (std::size_t n = 0; n < full.size(); ++n) {
    std::vector<std::uint8_t> cut(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n));
    Result<StateDict> read = read_state_dict(cut);
    if (read.ok()) ++loaded;
    else CHECK(!read.error().message.empty());
  }
  CHECK(loaded == 0);
}

TEST_CASE("every single-byte change of a valid archive is read or refused, never a crash", "[pytorch]") {
  const std::vector<std::uint8_t> valid = tiny_archive();
  int read_ok = 0, refused = 0;
  for (std::size_t at = 0; at < valid.size(); ++at) {
    for (std::uint8_t value : {std::uint8_t(0x00), std::uint8_t(0xFF), std::uint8_t(valid[at] ^ 0x01)}) {
      std::vector<std::uint8_t> bytes = valid;
      if (bytes[at] == value) continue;
      bytes[at] = value;
      zip::reseal_crcs(bytes);  // so the change reaches the pickle and the views, not only the CRC check
      Result<StateDict> read = read_state_dict(bytes);
      if (read.ok()) {
        ++read_ok;
        for (const auto& t : read.value().tensors) {
          std::uint64_t numel = 1;
          for (std::int64_t d : t.shape) numel *= std::uint64_t(d);
          CHECK(numel == (t.dtype == pytorch::TensorDType::int64 ? t.integers.size() : t.values.size()));
        }
      } else {
        ++refused;
        CHECK(!read.error().message.empty());
      }
    }
  }
  CHECK(refused > 0);
  CHECK(read_ok > 0);  // e.g. bytes of padding, timestamps, or a value inside a storage
}

TEST_CASE("Zip64 extra fields in the central directory are read (sizes and offset saturated)", "[pytorch]") {
  std::vector<std::uint8_t> b = tiny_archive();
  const std::size_t c = central(b, 1);
  const std::size_t name_length = get16(b, c + 28);
  const std::uint64_t size = get32(b, c + 24), offset = get32(b, c + 42);
  std::vector<std::uint8_t> extra = {1, 0, 24, 0};
  for (std::uint64_t v : {size, size, offset})
    for (int k = 0; k < 8; ++k) extra.push_back(std::uint8_t(v >> (8 * k)));
  b.insert(b.begin() + static_cast<std::ptrdiff_t>(c + 46 + name_length), extra.begin(), extra.end());
  set16(b, c + 30, std::uint16_t(extra.size()));
  set32(b, c + 20, 0xFFFFFFFFu), set32(b, c + 24, 0xFFFFFFFFu), set32(b, c + 42, 0xFFFFFFFFu);
  const std::size_t end = classic_end(b), locator = end - 20, record = locator - 56;
  set32(b, end + 12, get32(b, end + 12) + std::uint32_t(extra.size()));
  set32(b, record + 40, get32(b, record + 40) + std::uint32_t(extra.size()));
  set32(b, locator + 8, std::uint32_t(record));
  Result<StateDict> read = read_state_dict(b);
  if (!read) FAIL(read.error().to_string());
  CHECK(read.value().tensors[0].values == std::vector<float>{1.f, 1.5f, 2.f, 2.5f, 3.f, 3.5f});
  // The same field cut short is refused.
  set16(b, c + 46 + name_length + 2, 16);
  Result<StateDict> short_field = read_state_dict(b);
  REQUIRE(!short_field.ok());
  CHECK(short_field.error().code == ErrorCode::bad_archive);
}
