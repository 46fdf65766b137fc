using System.Text;

namespace TokenFormer.Text;

/// <summary>
/// A byte-level BPE model: vocabulary (token string → id), merges in rank order and the options Hugging Face's
/// <c>BPE</c> model supports here (<c>unk_token</c>, <c>fuse_unk</c>, <c>ignore_merges</c>). Immutable, thread-safe.
/// Words reach it as UTF-8 bytes; byte b starts as the token <see cref="ByteLevelAlphabet.ByteToChar"/>(b).
/// </summary>
public sealed class BpeModel
{
    private readonly Dictionary<string, int> _vocab;
    private readonly string?[] _idToToken;
    private readonly int[] _byteIds = new int[256];

    /// <summary>How far ids may run past twice the number of vocabulary entries (a vocabulary with gaps).</summary>
    public const int MaxIdGap = 1024;

    /// <summary>
    /// Builds a model. <paramref name="merges"/> are token pairs in rank order; both tokens and their concatenation
    /// must be in <paramref name="vocab"/>.
    /// </summary>
    /// <exception cref="TokenizerFormatException">A merge names a token that is not in the vocabulary.</exception>
    public BpeModel(IReadOnlyDictionary<string, int> vocab, IReadOnlyList<(string Left, string Right)> merges,
        string? unkToken = null, bool fuseUnk = false, bool ignoreMerges = false)
    {
        _vocab = new Dictionary<string, int>(vocab, StringComparer.Ordinal);
        int maxId = -1;
        // Ids index a dense id → token table, so an id far beyond the number of entries would make one tiny file
        // allocate gigabytes (or overflow at 2^31 − 1). Real vocabularies are dense (ids 0..n−1); some gaps are allowed.
        long idLimit = 2L * _vocab.Count + MaxIdGap;
        foreach (var (token, id) in _vocab)
        {
            if (id < 0) throw new TokenizerFormatException($"model.vocab: token '{token}' has negative id {id}");
            if (id >= idLimit)
                throw new TokenizerFormatException(
                    $"model.vocab: token '{token}' has id {id}, but the vocabulary has only {_vocab.Count} entries (ids must be below {idLimit}: twice the entries plus {MaxIdGap})");
            maxId = Math.Max(maxId, id);
        }
        _idToToken = new string?[maxId + 1];
        foreach (var (token, id) in _vocab) _idToToken[id] = token;

        var triples = new (int, int, int)[merges.Count];
        for (int i = 0; i < merges.Count; i++)
        {
            var (a, b) = merges[i];
            if (!_vocab.TryGetValue(a, out int ia))
                throw new TokenizerFormatException($"model.merges[{i}]: token '{a}' is not in model.vocab");
            if (!_vocab.TryGetValue(b, out int ib))
                throw new TokenizerFormatException($"model.merges[{i}]: token '{b}' is not in model.vocab");
            if (!_vocab.TryGetValue(a + b, out int im))
                throw new TokenizerFormatException($"model.merges[{i}]: merged token '{a + b}' is not in model.vocab");
            triples[i] = (ia, ib, im);
        }
        Merges = new BpeMerges(triples);
        MergeList = merges.ToArray();

        if (unkToken is not null)
        {
            if (!_vocab.TryGetValue(unkToken, out int unk))
                throw new TokenizerFormatException($"model.unk_token: '{unkToken}' is not in model.vocab");
            UnknownId = unk;
        }
        UnknownToken = unkToken;
        FuseUnknown = fuseUnk;
        IgnoreMerges = ignoreMerges;
        for (int b = 0; b < 256; b++)
            _byteIds[b] = _vocab.TryGetValue(ByteLevelAlphabet.ByteToChar((byte)b).ToString(), out int id) ? id : -1;
    }

    /// <summary>Merge table used when encoding.</summary>
    public BpeMerges Merges { get; }

    /// <summary>Merges as token pairs, in rank order (what tokenizer.json lists).</summary>
    public IReadOnlyList<(string Left, string Right)> MergeList { get; }

    /// <summary>The vocabulary (token → id).</summary>
    public IReadOnlyDictionary<string, int> Vocab => _vocab;

    /// <summary>One more than the largest id in the vocabulary.</summary>
    public int IdLimit => _idToToken.Length;

    /// <summary>Token for unknown bytes, or null (unknown bytes are then dropped, as in Hugging Face).</summary>
    public string? UnknownToken { get; }

    /// <summary>Id of <see cref="UnknownToken"/>, or -1.</summary>
    public int UnknownId { get; } = -1;

    /// <summary>Whether consecutive unknown bytes become one unknown token.</summary>
    public bool FuseUnknown { get; }

    /// <summary>Whether a word that is itself in the vocabulary is emitted whole without applying merges.</summary>
    public bool IgnoreMerges { get; }

    /// <summary>The id of <paramref name="token"/>, or null.</summary>
    public int? TokenToId(string token) => _vocab.TryGetValue(token, out int id) ? id : null;

    /// <summary>The token with id <paramref name="id"/>, or null.</summary>
    public string? IdToToken(int id) => (uint)id < (uint)_idToToken.Length ? _idToToken[id] : null;

    /// <summary>
    /// Encodes one word given as UTF-8 bytes and appends its token ids to <paramref name="output"/>.
    /// <paramref name="scratch"/> must hold at least <paramref name="utf8"/>.Length ints.
    /// </summary>
    internal void EncodeWord(ReadOnlySpan<byte> utf8, Span<int> scratch, BpeWordMerger merger, List<int> output)
    {
        if (IgnoreMerges && _vocab.TryGetValue(ByteLevelAlphabet.Map(utf8), out int whole))
        {
            output.Add(whole);
            return;
        }
        int n = 0;
        bool lastUnknown = false;
        foreach (byte b in utf8)
        {
            int id = _byteIds[b];
            if (id >= 0)
            {
                scratch[n++] = id;
                lastUnknown = false;
            }
            else if (UnknownId >= 0)
            {
                if (!(FuseUnknown && lastUnknown)) scratch[n++] = UnknownId;
                lastUnknown = true;
            }
        }
        int count = merger.MergeAll(scratch[..n], Merges);
        for (int i = 0; i < count; i++) output.Add(scratch[i]);
    }

    /// <summary>Appends the UTF-8 bytes that <paramref name="token"/> stands for under the ByteLevel decoder.</summary>
    internal static void AppendByteLevelBytes(string token, List<byte> output)
    {
        foreach (char c in token)
        {
            if (ByteLevelAlphabet.CharToByte(c) < 0)
            {
                // A token with a character outside the alphabet (e.g. an added token) stands for its own UTF-8.
                output.AddRange(Encoding.UTF8.GetBytes(token));
                return;
            }
        }
        foreach (char c in token) output.Add((byte)ByteLevelAlphabet.CharToByte(c));
    }
}
