using System.Buffers.Binary;
using System.Text;

namespace TokenFormer.Core.PyTorch;

/// <summary>
/// A pickle reader that never executes code: it interprets only the opcodes a PyTorch state dict needs
/// (protocols 2–5: PROTO, FRAME, MARK, STOP, the binary int/float/string opcodes, NONE/NEWTRUE/NEWFALSE, tuples,
/// lists, dicts, memo get/put, GLOBAL/STACK_GLOBAL, REDUCE, BUILD and BINPERSID) and resolves globals against a
/// fixed allow-list. The only "calls" are three built-in constructions:
/// <list type="bullet">
/// <item><c>collections.OrderedDict()</c> → an empty <see cref="PickleDict"/>;</item>
/// <item><c>torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, metadata])</c> →
/// a <see cref="TorchTensor"/> after checking shape, strides and bounds against the storage;</item>
/// <item><c>torch._utils._rebuild_parameter(tensor, requires_grad, hooks)</c> → the tensor.</item>
/// </list>
/// <c>torch.FloatStorage</c>, <c>torch.HalfStorage</c> and <c>torch.BFloat16Storage</c> are allowed only as the type
/// inside a storage's persistent id. Any other global, any other opcode, REDUCE of anything else, oversized strings,
/// lengths past the end of the data, impossible shapes and out-of-range views are refused with
/// <see cref="PyTorchFormatException"/> naming the file, byte position and opcode or global — before anything is
/// allocated for them.
/// </summary>
public sealed class RestrictedUnpickler
{
    /// <summary>Most memo entries and stack items accepted.</summary>
    public const int MaxObjects = 4_000_000;

    private static readonly PickleGlobal OrderedDictGlobal = new("collections", "OrderedDict");
    private static readonly PickleGlobal RebuildTensorV2 = new("torch._utils", "_rebuild_tensor_v2");
    private static readonly PickleGlobal RebuildParameter = new("torch._utils", "_rebuild_parameter");

    /// <summary>The globals a state dict may reference; anything else is refused at the GLOBAL opcode.</summary>
    public static IReadOnlySet<string> AllowedGlobals { get; } = new HashSet<string>(StringComparer.Ordinal)
    {
        "collections.OrderedDict", "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_parameter",
        "torch.FloatStorage", "torch.HalfStorage", "torch.BFloat16Storage",
    };

    private readonly byte[] _data;
    private readonly string _source;
    private readonly Func<PickleTuple, long, TorchStorage> _persistentLoad;
    private readonly List<object?> _stack = [];
    private readonly List<int> _marks = [];
    private readonly Dictionary<long, object?> _memo = [];
    private int _pos;
    private long _opStart;

    /// <summary>
    /// Prepares to read <paramref name="data"/> (<paramref name="source"/> names it in errors, e.g.
    /// <c>model.bin:archive/data.pkl</c>). <paramref name="persistentLoad"/> turns a BINPERSID tuple into a storage
    /// (or throws); its second argument is the byte position for messages.
    /// </summary>
    public RestrictedUnpickler(byte[] data, string source, Func<PickleTuple, long, TorchStorage> persistentLoad)
    {
        _data = data;
        _source = source;
        _persistentLoad = persistentLoad;
    }

    /// <summary>Reads one pickle up to STOP and returns its value.</summary>
    public object? Load()
    {
        while (true)
        {
            _opStart = _pos;
            byte op = ReadByte();
            switch (op)
            {
                case 0x80: // PROTO
                {
                    byte proto = ReadByte();
                    if (proto < 2 || proto > 5) throw Fail($"pickle protocol {proto} is not supported (expected 2–5)");
                    break;
                }
                case 0x95: Take(8); break; // FRAME: length of the next frame, nothing to do
                case (byte)'(': _marks.Add(_stack.Count); break; // MARK
                case (byte)'.': // STOP
                    if (_stack.Count != 1 || _marks.Count != 0) throw Fail($"STOP with {_stack.Count} items on the stack and {_marks.Count} open marks");
                    return _stack[0];
                case (byte)'0': Pop(); break; // POP
                case (byte)'1': PopMark(); break; // POP_MARK
                case (byte)'2': Push(Peek()); break; // DUP
                case (byte)'N': Push(null); break;
                case 0x88: Push(true); break; // NEWTRUE
                case 0x89: Push(false); break; // NEWFALSE
                case (byte)'J': Push((long)BinaryPrimitives.ReadInt32LittleEndian(Take(4))); break; // BININT
                case (byte)'K': Push((long)ReadByte()); break; // BININT1
                case (byte)'M': Push((long)BinaryPrimitives.ReadUInt16LittleEndian(Take(2))); break; // BININT2
                case 0x8a: // LONG1
                {
                    int n = ReadByte();
                    if (n > 8) throw Fail($"LONG1 of {n} bytes is larger than any size or offset a state dict holds");
                    ReadOnlySpan<byte> b = Take(n);
                    long v = 0;
                    for (int i = n - 1; i >= 0; i--) v = (v << 8) | b[i];
                    if (n > 0 && n < 8 && (b[n - 1] & 0x80) != 0) v -= 1L << (8 * n);
                    Push(v);
                    break;
                }
                case (byte)'G': Push(BinaryPrimitives.ReadDoubleBigEndian(Take(8))); break; // BINFLOAT
                case (byte)'X': Push(ReadUtf8(BinaryPrimitives.ReadUInt32LittleEndian(Take(4)), "BINUNICODE")); break;
                case 0x8c: Push(ReadUtf8(ReadByte(), "SHORT_BINUNICODE")); break;
                case 0x8d: Push(ReadUtf8((long)BinaryPrimitives.ReadUInt64LittleEndian(Take(8)), "BINUNICODE8")); break;
                case (byte)'U': Push(Encoding.Latin1.GetString(Take(ReadByte()))); break; // SHORT_BINSTRING
                case (byte)')': Push(new PickleTuple([])); break; // EMPTY_TUPLE
                case 0x85: Push(new PickleTuple([Pop()])); break; // TUPLE1
                case 0x86: { object? b = Pop(), a = Pop(); Push(new PickleTuple([a, b])); break; } // TUPLE2
                case 0x87: { object? c = Pop(), b = Pop(), a = Pop(); Push(new PickleTuple([a, b, c])); break; } // TUPLE3
                case (byte)'t': Push(new PickleTuple(PopMark())); break; // TUPLE
                case (byte)']': Push(new List<object?>()); break; // EMPTY_LIST
                case (byte)'l': Push(new List<object?>(PopMark())); break; // LIST
                case (byte)'a': { object? v = Pop(); AsList(Peek(), "APPEND").Add(v); break; }
                case (byte)'e': { object?[] items = PopMark(); AsList(Peek(), "APPENDS").AddRange(items); break; }
                case (byte)'}': Push(new PickleDict()); break; // EMPTY_DICT
                case (byte)'d': // DICT
                {
                    object?[] items = PopMark();
                    var dict = new PickleDict();
                    SetItems(dict, items, "DICT");
                    Push(dict);
                    break;
                }
                case (byte)'s': { object? v = Pop(), k = Pop(); SetItems(AsDict(Peek(), "SETITEM"), [k, v], "SETITEM"); break; }
                case (byte)'u': { object?[] items = PopMark(); SetItems(AsDict(Peek(), "SETITEMS"), items, "SETITEMS"); break; }
                case (byte)'h': Push(MemoGet(ReadByte())); break; // BINGET
                case (byte)'j': Push(MemoGet(BinaryPrimitives.ReadUInt32LittleEndian(Take(4)))); break; // LONG_BINGET
                case (byte)'q': MemoPut(ReadByte()); break; // BINPUT
                case (byte)'r': MemoPut(BinaryPrimitives.ReadUInt32LittleEndian(Take(4))); break; // LONG_BINPUT
                case 0x94: MemoPut(_memo.Count); break; // MEMOIZE
                case (byte)'c': // GLOBAL
                {
                    string module = ReadLine("GLOBAL module"), name = ReadLine("GLOBAL name");
                    Push(ResolveGlobal(module, name, "GLOBAL"));
                    break;
                }
                case 0x93: // STACK_GLOBAL
                {
                    object? name = Pop(), module = Pop();
                    if (module is not string m || name is not string n) throw Fail("STACK_GLOBAL needs two strings");
                    Push(ResolveGlobal(m, n, "STACK_GLOBAL"));
                    break;
                }
                case (byte)'Q': // BINPERSID
                {
                    object? pid = Pop();
                    if (pid is not PickleTuple t) throw Fail($"BINPERSID expects a tuple persistent id, got {Describe(pid)}");
                    Push(_persistentLoad(t, _opStart));
                    break;
                }
                case (byte)'R': // REDUCE
                {
                    object? args = Pop(), callable = Pop();
                    if (args is not PickleTuple a) throw Fail($"REDUCE expects an argument tuple, got {Describe(args)}");
                    Push(Reduce(callable, a));
                    break;
                }
                case (byte)'b': // BUILD
                {
                    object? state = Pop();
                    object? target = Peek();
                    if (target is PickleDict d && state is null or PickleDict) d.State = state;
                    else if (target is TorchTensor && state is null or PickleDict or PickleTuple) { /* tensor attributes: ignored */ }
                    else throw Fail($"BUILD of {Describe(target)} with state {Describe(state)} is not allowed");
                    break;
                }
                default:
                    throw Fail($"opcode 0x{op:x2} ({OpcodeName(op)}) is not allowed in a state dict; refusing to read further");
            }
        }
    }

    private object Reduce(object? callable, PickleTuple args)
    {
        if (callable is not PickleGlobal g) throw Fail($"REDUCE of {Describe(callable)} is not allowed (only allow-listed functions may be called)");
        if (g == OrderedDictGlobal)
        {
            if (args.Count != 0) throw Fail("REDUCE of collections.OrderedDict with arguments is not supported (a state dict is built empty, then filled)");
            return new PickleDict();
        }
        if (g == RebuildTensorV2) return RebuildTensor(args);
        if (g == RebuildParameter)
        {
            if (args.Count < 1 || args.Items[0] is not TorchTensor t)
                throw Fail("torch._utils._rebuild_parameter expects (tensor, requires_grad, backward_hooks)");
            return t;
        }
        throw Fail($"REDUCE of '{g}' is not allowed: only collections.OrderedDict, torch._utils._rebuild_tensor_v2 and torch._utils._rebuild_parameter may be called");
    }

    private TorchTensor RebuildTensor(PickleTuple args)
    {
        const string sig = "torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])";
        if (args.Count < 4 || args.Count > 7) throw Fail($"{sig} called with {args.Count} arguments");
        if (args.Items[0] is not TorchStorage storage) throw Fail($"{sig}: the storage argument is {Describe(args.Items[0])}, not a storage persistent id");
        if (args.Items[1] is not long offset || offset < 0) throw Fail($"{sig}: storage_offset {Describe(args.Items[1])} is not a non-negative integer");
        long[] shape = Longs(args.Items[2], "size");
        long[] strides = Longs(args.Items[3], "stride");
        if (shape.Length != strides.Length) throw Fail($"tensor size has {shape.Length} dimensions but stride has {strides.Length}");
        string shapeText = "[" + string.Join(", ", shape) + "]";
        long count = 1, last = offset;
        for (int k = 0; k < shape.Length; k++)
        {
            if (shape[k] < 0 || strides[k] < 0) throw Fail($"tensor size {shapeText} / stride [{string.Join(", ", strides)}] has a negative entry");
            if (shape[k] != 0 && count != 0 && count > long.MaxValue / shape[k])
                throw Fail($"tensor size {shapeText} has more elements than a 64-bit count can hold (overflow); refusing it");
            count *= shape[k];
        }
        if (count > 0)
        {
            for (int k = 0; k < shape.Length; k++)
            {
                long reach = shape[k] - 1;
                if (reach != 0 && strides[k] > (long.MaxValue - last) / reach)
                    throw Fail($"tensor size {shapeText} with stride [{string.Join(", ", strides)}] reaches past any storage (overflow)");
                last += reach * strides[k];
            }
            if (last >= storage.ElementCount)
                throw Fail($"tensor size {shapeText}, stride [{string.Join(", ", strides)}] at offset {offset} needs storage element {last}, but storage '{storage.Key}' holds {storage.ElementCount} elements");
        }
        return new TorchTensor("", storage, offset, shape, strides);
    }

    private long[] Longs(object? value, string what)
    {
        if (value is not PickleTuple t) throw Fail($"tensor {what} is {Describe(value)}, not a tuple of integers");
        if (t.Count > 64) throw Fail($"tensor {what} has {t.Count} dimensions (at most 64)");
        var r = new long[t.Count];
        for (int i = 0; i < r.Length; i++)
            r[i] = t.Items[i] is long v ? v : throw Fail($"tensor {what} entry {i} is {Describe(t.Items[i])}, not an integer");
        return r;
    }

    private object ResolveGlobal(string module, string name, string opcode)
    {
        string full = module + "." + name;
        if (!AllowedGlobals.Contains(full))
            throw Fail($"{opcode} '{full}' is not allowed: a state dict only references {string.Join(", ", AllowedGlobals)}; refusing to load (nothing was executed)");
        return new PickleGlobal(module, name);
    }

    private void SetItems(PickleDict dict, object?[] items, string opcode)
    {
        if (items.Length % 2 != 0) throw Fail($"{opcode} with an odd number of items ({items.Length})");
        for (int i = 0; i < items.Length; i += 2)
        {
            object key = items[i] switch
            {
                string or long or bool => items[i]!,
                _ => throw Fail($"{opcode}: dict key {Describe(items[i])} is not a string or integer"),
            };
            dict.Items[key] = items[i + 1];
        }
    }

    private List<object?> AsList(object? o, string opcode) => o as List<object?> ?? throw Fail($"{opcode} on {Describe(o)} (not a list)");
    private PickleDict AsDict(object? o, string opcode) => o as PickleDict ?? throw Fail($"{opcode} on {Describe(o)} (not a dict)");

    private object? MemoGet(long index) =>
        _memo.TryGetValue(index, out object? v) ? v : throw Fail($"memo entry {index} is read before it was written");

    private void MemoPut(long index)
    {
        if (_memo.Count >= MaxObjects && !_memo.ContainsKey(index)) throw Fail($"more than {MaxObjects} memo entries");
        _memo[index] = Peek();
    }

    private void Push(object? o)
    {
        if (_stack.Count >= MaxObjects) throw Fail($"more than {MaxObjects} items on the pickle stack");
        _stack.Add(o);
    }

    private object? Pop()
    {
        if (_stack.Count == 0 || (_marks.Count > 0 && _marks[^1] == _stack.Count)) throw Fail("stack underflow");
        object? o = _stack[^1];
        _stack.RemoveAt(_stack.Count - 1);
        return o;
    }

    private object? Peek()
    {
        if (_stack.Count == 0) throw Fail("stack underflow");
        return _stack[^1];
    }

    private object?[] PopMark()
    {
        if (_marks.Count == 0) throw Fail("no MARK to pop to");
        int start = _marks[^1];
        _marks.RemoveAt(_marks.Count - 1);
        object?[] items = _stack.GetRange(start, _stack.Count - start).ToArray();
        _stack.RemoveRange(start, _stack.Count - start);
        return items;
    }

    private byte ReadByte()
    {
        if (_pos >= _data.Length) throw Fail("unexpected end of the pickle (truncated data.pkl)");
        return _data[_pos++];
    }

    private ReadOnlySpan<byte> Take(long n)
    {
        if (n < 0 || n > _data.Length - _pos)
            throw Fail($"a length of {n} bytes runs past the end of the pickle ({_data.Length - _pos} bytes left); refusing it");
        ReadOnlySpan<byte> s = _data.AsSpan(_pos, (int)n);
        _pos += (int)n;
        return s;
    }

    private string ReadUtf8(long n, string opcode)
    {
        if (n < 0 || n > _data.Length - _pos)
            throw Fail($"{opcode} claims {n} bytes but only {_data.Length - _pos} remain; refusing it");
        return Encoding.UTF8.GetString(Take(n));
    }

    private string ReadLine(string what)
    {
        int end = Array.IndexOf(_data, (byte)'\n', _pos);
        if (end < 0 || end - _pos > 256) throw Fail($"{what} is not a newline-terminated name of at most 256 bytes");
        string s = Encoding.UTF8.GetString(_data, _pos, end - _pos);
        _pos = end + 1;
        return s;
    }

    private PyTorchFormatException Fail(string message) => new($"{_source} at byte {_opStart}: {message}");

    private static string Describe(object? o) => o switch
    {
        null => "None",
        string s => $"the string '{(s.Length > 40 ? s[..40] + "…" : s)}'",
        long l => $"the integer {l}",
        bool b => b ? "True" : "False",
        double d => $"the float {d}",
        PickleGlobal g => $"'{g}'",
        PickleTuple t => $"a {t.Count}-tuple",
        List<object?> => "a list",
        PickleDict => "a dict",
        TorchStorage s => $"storage '{s.Key}'",
        TorchTensor => "a tensor",
        _ => o.GetType().Name,
    };

    /// <summary>The pickle name of an opcode byte (for messages).</summary>
    public static string OpcodeName(byte op) => op switch
    {
        (byte)'i' => "INST", (byte)'o' => "OBJ", 0x81 => "NEWOBJ", 0x92 => "NEWOBJ_EX", 0x82 => "EXT1", 0x83 => "EXT2", 0x84 => "EXT4",
        (byte)'P' => "PERSID", 0x8b => "LONG4", (byte)'S' => "STRING", (byte)'V' => "UNICODE", (byte)'I' => "INT", (byte)'L' => "LONG",
        (byte)'F' => "FLOAT", (byte)'p' => "PUT", (byte)'g' => "GET", (byte)'B' => "BINBYTES", (byte)'C' => "SHORT_BINBYTES",
        (byte)'T' => "BINSTRING", 0x8e => "BINBYTES8", 0x8f => "EMPTY_SET", 0x90 => "ADDITEMS", 0x91 => "FROZENSET",
        0x96 => "BYTEARRAY8", 0x97 => "NEXT_BUFFER", 0x98 => "READONLY_BUFFER",
        _ => "unknown opcode",
    };
}
