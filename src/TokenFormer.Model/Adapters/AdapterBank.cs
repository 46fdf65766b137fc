using TokenFormer.Core.Kernels;
using TokenFormer.Core.Threading;
using TokenFormer.Model.Architecture;
using TokenFormer.Model.Kernels;

namespace TokenFormer.Model.Adapters;

/// <summary>
/// Several adapters served on one base model (docs/adapters.md, Serving): each cache slot (sequence) of an
/// <see cref="Inference.IncrementalRunner"/> is bound to one adapter or to the bare base (<see cref="SetSlot"/>), and
/// the rows of one forward may mix them. Every Pattention keeps its one base product over all rows (the base weights
/// are read once per step whatever the mix); each row then adds only its own adapter's tokens: its extra scores
/// x·K_aᵀ join its base scores in the normaliser (the L2 norm spans both, so the result is the merged model's), and
/// its extra output S_a·V_a is added (<see cref="IPattentionExtension"/>). Not thread-safe (one per runner).
/// </summary>
public sealed class AdapterBank
{
    private readonly List<Adapter> _adapters = [];
    private readonly List<string> _names = [];
    private readonly TokenFormerModel _base;
    private readonly string _baseHash;
    private readonly List<Tokens> _extensions = [];
    private int[] _slotAdapter = [];
    private int[] _rowAdapter = [], _logitRows = [];
    private int _rows;

    /// <summary>A bank over <paramref name="baseModel"/> (float32); computes its weight hash once.</summary>
    public AdapterBank(TokenFormerModel baseModel, string? baseHash = null)
    {
        _base = baseModel;
        _baseHash = baseHash ?? Adapter.BaseHash(baseModel);
    }

    /// <summary>SHA-256 of the base's weights.</summary>
    public string BaseHash => _baseHash;
    /// <summary>Adapters held.</summary>
    public int Count => _adapters.Count;
    /// <summary>The adapter with index <paramref name="i"/>.</summary>
    public Adapter this[int i] => _adapters[i];
    /// <summary>The names given to <see cref="Add"/>, by index.</summary>
    public IReadOnlyList<string> Names => _names;

    /// <summary>Adds an adapter (refused when it was made for another base, naming both hashes); returns its index.</summary>
    public int Add(Adapter adapter, string name, string baseName)
    {
        Adapter.CheckBase(adapter.Config, _base, baseName, _baseHash);
        TokenFormerConfig a = adapter.Config.BaseModelConfig(name), b = _base.Config;
        if (a.FirstDifference(b) is var (field, mine, theirs))
            throw new AdapterFormatException($"adapter {name}: its base config differs from {baseName}'s in {field} ({mine} against {theirs})");
        _adapters.Add(adapter);
        _names.Add(name);
        foreach (Tokens t in _extensions) t.Load(_adapters.Count - 1);
        return _adapters.Count - 1;
    }

    /// <summary>Binds cache slot <paramref name="slot"/> to adapter <paramref name="adapter"/> (−1: the bare base).</summary>
    public void SetSlot(int slot, int adapter)
    {
        if (adapter < -1 || adapter >= _adapters.Count) throw new ArgumentOutOfRangeException(nameof(adapter), $"adapter {adapter} is not in the bank (0 … {_adapters.Count - 1}, or −1 for the base)");
        if (slot < 0) throw new ArgumentOutOfRangeException(nameof(slot));
        if (slot >= _slotAdapter.Length)
        {
            int old = _slotAdapter.Length;
            Array.Resize(ref _slotAdapter, Math.Max(slot + 1, 2 * old));
            _slotAdapter.AsSpan(old).Fill(-1);
        }
        _slotAdapter[slot] = adapter;
    }

    /// <summary>The adapter cache slot <paramref name="slot"/> is bound to (−1: the bare base, also for a slot never bound).</summary>
    public int AdapterOf(int slot) => (uint)slot < (uint)_slotAdapter.Length ? _slotAdapter[slot] : -1;

    /// <summary>Binds every slot below <paramref name="slots"/> to <paramref name="adapter"/>.</summary>
    public void SetAll(int slots, int adapter)
    {
        for (int s = 0; s < slots; s++) SetSlot(s, adapter);
    }

    /// <summary>Sets the extensions on every Pattention of <paramref name="stack"/> (which must run the bank's base).</summary>
    public void Attach(TokenFormerStack stack)
    {
        if (stack.Model != _base && stack.Model.Parameters != _base.Parameters)
            throw new ArgumentException("the stack does not run the bank's base model");
        foreach (TokenFormerBlock block in stack.Blocks)
            foreach (var (p, sites) in new[] { (block.Qkv, new[] { PattentionSite.Query, PattentionSite.Key, PattentionSite.Value }),
                (block.Projection, new[] { PattentionSite.Projection }), (block.Ffn, new[] { PattentionSite.Ffn }) })
            {
                var t = new Tokens(this, p, block.Layer, sites);
                for (int i = 0; i < _adapters.Count; i++) t.Load(i);
                _extensions.Add(t);
                p.Extension = t;
            }
    }

    /// <summary>
    /// The rows of the next forward: their slots and the logit rows (as given to the runner). In the last layer the runner
    /// keeps only the logit rows, moved to the front; the extensions follow that with <see cref="SourceRow"/>.
    /// </summary>
    public void Begin(ReadOnlySpan<int> slots, ReadOnlySpan<int> logitRows)
    {
        if (_rowAdapter.Length < slots.Length) _rowAdapter = new int[slots.Length];
        if (_logitRows.Length < logitRows.Length) _logitRows = new int[logitRows.Length];
        for (int i = 0; i < slots.Length; i++)
            _rowAdapter[i] = slots[i] < _slotAdapter.Length ? _slotAdapter[slots[i]] : -1;
        logitRows.CopyTo(_logitRows);
        _rows = slots.Length;
    }

    /// <summary>
    /// Row r of a product over <paramref name="rowsNow"/> rows as a row of the forward's input: itself, or after the last
    /// layer dropped the rows whose logits are not wanted (fewer rows), the r-th logit row.
    /// </summary>
    private int SourceRow(int r, int rowsNow) => rowsNow == _rows ? r : _logitRows[r];

    private int AdapterOf(int r, int rowsNow) => _rows == 0 ? -1 : _rowAdapter[SourceRow(r, rowsNow)];

    /// <summary>y += a·x (SIMD).</summary>
    private static void Axpy(float a, ReadOnlySpan<float> x, Span<float> y)
    {
        int i = 0;
        if (System.Numerics.Vector.IsHardwareAccelerated)
        {
            var va = new System.Numerics.Vector<float>(a);
            int w = System.Numerics.Vector<float>.Count;
            for (; i <= y.Length - w; i += w)
                (new System.Numerics.Vector<float>(y.Slice(i, w)) + va * new System.Numerics.Vector<float>(x.Slice(i, w))).CopyTo(y.Slice(i, w));
        }
        for (; i < y.Length; i++) y[i] += a * x[i];
    }

    /// <summary>One Pattention's adapter tokens for every adapter of the bank, and the extra scores of the current forward.</summary>
    private sealed class Tokens : IPattentionExtension, IRowWork
    {
        [ThreadStatic] private static float[]? _scratchPre, _scratchS;
        private readonly AdapterBank _bank;
        private readonly Pattention _p;
        private readonly PattentionSite[] _sites;
        private readonly int _layer;
        private readonly List<int> _k = [];
        private readonly List<float[][]> _keys = [], _values = [];
        private int _kMax;
        private float[] _extraS = [];
        private int _scoredRows;
        private float[] _x = null!;
        private PattentionActivations _act = null!;

        public Tokens(AdapterBank bank, Pattention p, int layer, PattentionSite[] sites)
        {
            _bank = bank; _p = p; _layer = layer; _sites = sites;
        }

        public void Load(int index)
        {
            Adapter a = _bank._adapters[index];
            ParameterLayout layout = _bank._base.Layout;
            int k = Adapter.TokensOf(a.Config.Tokens, _sites[0]);
            var keys = new float[_sites.Length][];
            var values = new float[_sites.Length][];
            for (int g = 0; g < _sites.Length; g++)
            {
                keys[g] = a.Rows(layout.Tensor(_layer, _sites[g], ParameterRole.PattentionKeys).Name).ToArray();
                values[g] = a.Rows(layout.Tensor(_layer, _sites[g], ParameterRole.PattentionValues).Name).ToArray();
            }
            _k.Add(k); _keys.Add(keys); _values.Add(values);
            _kMax = Math.Max(_kMax, k);
        }

        public void Normalize(Pattention p, int rows, float[] x, PattentionActivations act)
        {
            int need = rows * p.Groups * _kMax;
            if (_extraS.Length < need) _extraS = new float[need];
            _scoredRows = rows;
            _x = x; _act = act;
            RowRanges.Run(rows, this);
            _x = null!; _act = null!;
        }

        public void Rows(int start, int end)
        {
            Pattention p = _p;
            int n = p.Tokens, groups = p.Groups, w = p.Width, din = p.InputWidth;
            float[] pre = _act.Pre, s = _act.S, stat = _act.Stat;
            int wide = n + _kMax;
            if (_scratchPre == null || _scratchPre.Length < wide) { _scratchPre = new float[wide]; _scratchS = new float[wide]; }
            float[] sp = _scratchPre!, ss = _scratchS!;
            for (int r = start; r < end; r++)
            {
                int a = _bank.AdapterOf(r, _scoredRows);
                int k = a < 0 ? 0 : _k[a];
                for (int grp = 0; grp < groups; grp++)
                {
                    int at = r * w + grp * n;
                    if (k == 0)
                    {
                        stat[r * groups + grp] = PattentionNormalizer.Forward(p.Activation, p.Tau, p.Multiplier, pre.AsSpan(at, n), s.AsSpan(at, n));
                        continue;
                    }
                    // the row's base scores and its adapter's scores, normalised together as the merged model's row is
                    pre.AsSpan(at, n).CopyTo(sp);
                    ReadOnlySpan<float> xr = _x.AsSpan(r * din, din);
                    float[] keys = _keys[a][grp];
                    for (int j = 0; j < k; j++) sp[n + j] = SpanMath.Dot(xr, keys.AsSpan(j * din, din));
                    stat[r * groups + grp] = PattentionNormalizer.Forward(p.Activation, p.Tau, p.Multiplier, sp.AsSpan(0, n + k), ss.AsSpan(0, n + k));
                    sp.AsSpan(0, n).CopyTo(pre.AsSpan(at, n));
                    ss.AsSpan(0, n).CopyTo(s.AsSpan(at, n));
                    ss.AsSpan(n, k).CopyTo(_extraS.AsSpan((r * groups + grp) * _kMax, k));
                }
            }
        }

        public void AddOutput(Pattention p, int group, int rows, float[] y)
        {
            int dout = p.OutputWidth, groups = p.Groups;
            for (int r = 0; r < rows; r++)
            {
                // the rows were scored before the last layer dropped the non-logit rows (the Q product), or after
                int src = rows == _scoredRows ? r : _bank.SourceRow(r, rows);
                int a = _bank.AdapterOf(r, rows);
                if (a < 0 || _k[a] == 0) continue;
                Span<float> yr = y.AsSpan(r * dout, dout);
                float[] values = _values[a][group];
                int at = (src * groups + group) * _kMax;
                for (int j = 0; j < _k[a]; j++)
                {
                    float sj = _extraS[at + j];
                    if (sj == 0) continue;
                    Axpy(sj, values.AsSpan(j * dout, dout), yr);
                }
            }
        }
    }
}
