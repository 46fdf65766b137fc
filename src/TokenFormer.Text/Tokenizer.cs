using System.Security.Cryptography;
using System.Text;
using TokenFormer.Core.Threading;

namespace TokenFormer.Text;

/// <summary>
/// A byte-level BPE tokenizer compatible with Hugging Face's tokenizer.json: added tokens are matched first (raw ones
/// in the input, normalised ones after the normaliser), the rest is normalised (NFC/NFKC/NFD/NFKD or none), split
/// with the GPT-2 pattern (ByteLevel pre-tokenizer), and each piece's UTF-8 bytes are merged by the BPE model.
/// Ids equal those of Hugging Face's <c>tokenizers</c>. Thread-safe: each thread gets its own word cache.
/// </summary>
public sealed class Tokenizer
{
    /// <summary>The end-of-text token GPT-2, GPT-NeoX and tokenizers trained here use.</summary>
    public const string EndOfTextToken = "<|endoftext|>";

    private readonly AddedToken[] _addedTokens;
    private readonly Dictionary<string, AddedToken> _addedByContent = new(StringComparer.Ordinal);
    private readonly Dictionary<int, AddedToken> _addedById = new();
    private readonly AddedTokenMatcher _rawMatcher;
    private readonly AddedTokenMatcher _normalizedMatcher;
    private readonly ThreadLocal<EncoderState> _state = new(() => new EncoderState());
    private string? _contentHash;

    /// <summary>
    /// Assembles a tokenizer from its components. Added tokens get ids the way Hugging Face's library assigns them
    /// when it loads a tokenizer.json (the ids written in the file are not used): a token already in the model's
    /// vocabulary takes that id; any other takes the next id after the vocabulary and the tokens added before it.
    /// A token whose content repeats an earlier one is ignored.
    /// </summary>
    /// <param name="model">The BPE model.</param>
    /// <param name="addedTokens">Added tokens (special or not), in tokenizer.json order.</param>
    /// <param name="normalizers">Normalisers applied in order (empty: none).</param>
    /// <param name="preTokenizer">ByteLevel pre-tokenizer options.</param>
    /// <param name="postProcessor">ByteLevel post-processor options, or null (neither adds ids).</param>
    /// <param name="decoder">ByteLevel decoder options, or null (decode then joins tokens with spaces).</param>
    public Tokenizer(BpeModel model, IEnumerable<AddedToken> addedTokens, IEnumerable<UnicodeNormalizer> normalizers,
        ByteLevelOptions preTokenizer, ByteLevelOptions? postProcessor, ByteLevelOptions? decoder)
    {
        Model = model;
        Normalizers = normalizers.ToArray();
        PreTokenizer = preTokenizer;
        PostProcessor = postProcessor;
        Decoder = decoder;

        var specials = new List<AddedToken>();
        var others = new List<AddedToken>();
        var specialContents = new HashSet<string>(StringComparer.Ordinal);
        int modelSize = model.Vocab.Count;
        int maxAdded = -1;
        foreach (AddedToken token in addedTokens)
        {
            if (token.Content.Length == 0 || _addedByContent.ContainsKey(token.Content)) continue;
            int id = model.TokenToId(token.Content)
                     ?? (maxAdded < 0 ? modelSize : maxAdded >= modelSize || modelSize == 0 ? maxAdded + 1 : modelSize);
            maxAdded = Math.Max(maxAdded, id);
            AddedToken assigned = token with { Id = id };
            _addedByContent[token.Content] = assigned;
            _addedById[id] = assigned;
            if (token.Special && specialContents.Add(token.Content)) specials.Add(assigned);
            else others.Add(assigned);
        }
        _addedTokens = _addedById.Values.OrderBy(t => t.Id).ToArray();
        // HF matches special tokens first, then the others; normalised tokens are matched in their normalised form.
        AddedToken[] ordered = [.. specials, .. others];
        _rawMatcher = new AddedTokenMatcher(ordered.Where(t => !t.Normalized));
        _normalizedMatcher = new AddedTokenMatcher(ordered.Where(t => t.Normalized).Select(t => t with { Content = NormalizeText(t.Content) }));

        int limit = model.IdLimit;
        foreach (AddedToken t in _addedTokens) limit = Math.Max(limit, t.Id + 1);
        VocabSize = limit;
    }

    /// <summary>Loads a tokenizer.json file.</summary>
    /// <exception cref="TokenizerFormatException">The file is malformed or uses an unsupported component.</exception>
    public static Tokenizer Load(string path) => TokenizerJson.Read(File.ReadAllText(path, Encoding.UTF8), path);

    /// <summary>Parses tokenizer.json text; <paramref name="source"/> names it in error messages.</summary>
    public static Tokenizer FromJson(string json, string source = "tokenizer.json") => TokenizerJson.Read(json, source);

    /// <summary>The BPE model.</summary>
    public BpeModel Model { get; }

    /// <summary>Added tokens, by id.</summary>
    public IReadOnlyList<AddedToken> AddedTokens => _addedTokens;

    /// <summary>Normalisers, applied in order.</summary>
    public IReadOnlyList<UnicodeNormalizer> Normalizers { get; }

    /// <summary>The ByteLevel pre-tokenizer's options.</summary>
    public ByteLevelOptions PreTokenizer { get; }

    /// <summary>The ByteLevel post-processor's options, or null.</summary>
    public ByteLevelOptions? PostProcessor { get; }

    /// <summary>The ByteLevel decoder's options, or null.</summary>
    public ByteLevelOptions? Decoder { get; }

    /// <summary>Number of ids: one more than the largest id of the vocabulary and the added tokens.</summary>
    public int VocabSize { get; }

    /// <summary>Id of <c>&lt;|endoftext|&gt;</c>, or null if this tokenizer has none.</summary>
    public int? EndOfTextId => TokenToId(EndOfTextToken);

    /// <summary>Lower-case hex SHA-256 of the canonical tokenizer.json this tokenizer saves as.</summary>
    public string ContentHash => _contentHash ??= Convert.ToHexStringLower(SHA256.HashData(TokenizerJson.Write(this, indented: false)));

    /// <summary>The id of <paramref name="token"/> (added tokens first, then the model's vocabulary), or null.</summary>
    public int? TokenToId(string token) =>
        _addedByContent.TryGetValue(token, out AddedToken? t) ? t.Id : Model.TokenToId(token);

    /// <summary>The token string with id <paramref name="id"/>, or null.</summary>
    public string? IdToToken(int id) =>
        _addedById.TryGetValue(id, out AddedToken? t) ? t.Content : Model.IdToToken(id);

    /// <summary>Whether <paramref name="id"/> is a special added token.</summary>
    public bool IsSpecial(int id) => _addedById.TryGetValue(id, out AddedToken? t) && t.Special;

    /// <summary>Saves as tokenizer.json (written to a temporary file, then renamed).</summary>
    public void Save(string path)
    {
        string full = Path.GetFullPath(path);
        string temp = full + ".tmp-" + Environment.ProcessId;
        File.WriteAllBytes(temp, TokenizerJson.Write(this, indented: true));
        File.Move(temp, full, overwrite: true);
    }

    /// <summary>Serialises as tokenizer.json text.</summary>
    public string ToJson(bool indented = true) => Encoding.UTF8.GetString(TokenizerJson.Write(this, indented));

    /// <summary>Encodes <paramref name="text"/> into token ids: [number of tokens].</summary>
    public int[] Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        EncoderState state = _state.Value!;
        state.Output.Clear();
        EncodeInto(text, state, state.Output);
        return state.Output.ToArray();
    }

    /// <summary>
    /// Encodes UTF-8 bytes: [number of tokens]. Any byte sequence is accepted; invalid UTF-8 is replaced by U+FFFD
    /// first (what a lossy reader hands Hugging Face's library).
    /// </summary>
    public int[] Encode(ReadOnlySpan<byte> utf8) => Encode(Encoding.UTF8.GetString(utf8));

    /// <summary>Encodes <paramref name="text"/> and appends the ids to <paramref name="output"/>.</summary>
    public void Encode(string text, List<int> output)
    {
        ArgumentNullException.ThrowIfNull(text);
        EncodeInto(text, _state.Value!, output);
    }

    /// <summary>Encodes every text, in parallel over <see cref="Parallelism.ThreadCount"/> threads: [texts][tokens].</summary>
    public int[][] EncodeBatch(IReadOnlyList<string> texts)
    {
        var result = new int[texts.Count][];
        Parallelism.For(texts.Count, new BatchWork(this, texts, result));
        return result;
    }

    /// <summary>
    /// Decodes ids into text (the ByteLevel decoder maps tokens back to bytes; invalid UTF-8 becomes U+FFFD).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">An id is not in the vocabulary.</exception>
    public string Decode(ReadOnlySpan<int> ids, bool skipSpecialTokens = false)
    {
        if (Decoder is null)
        {
            var parts = new List<string>(ids.Length);
            foreach (int id in ids)
            {
                string token = IdToToken(id) ?? throw UnknownId(id);
                if (!(skipSpecialTokens && IsSpecial(id))) parts.Add(token);
            }
            return string.Join(' ', parts);
        }
        var bytes = new List<byte>(ids.Length * 4);
        foreach (int id in ids)
        {
            string token = IdToToken(id) ?? throw UnknownId(id);
            if (skipSpecialTokens && IsSpecial(id)) continue;
            BpeModel.AppendByteLevelBytes(token, bytes);
        }
        return Encoding.UTF8.GetString(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(bytes));
    }

    private ArgumentOutOfRangeException UnknownId(int id) =>
        new(nameof(id), id, $"token id {id} is not in the vocabulary (ids are 0 to {VocabSize - 1})");

    private void EncodeInto(string text, EncoderState state, List<int> output)
    {
        if (_rawMatcher.IsEmpty && _normalizedMatcher.IsEmpty && Normalizers.Count == 0)
        {
            EncodeSegment(text, state, output);
            return;
        }
        List<(int Start, int Length, int Id)> segments = state.Segments;
        segments.Clear();
        _rawMatcher.Split(text, segments);
        // Copy: the inner loop reuses the state's other list.
        foreach (var (start, length, id) in segments.ToArray())
        {
            if (id >= 0)
            {
                output.Add(id);
                continue;
            }
            string piece = NormalizeText(start == 0 && length == text.Length ? text : text.Substring(start, length));
            if (_normalizedMatcher.IsEmpty)
            {
                EncodeSegment(piece, state, output);
                continue;
            }
            List<(int Start, int Length, int Id)> inner = state.InnerSegments;
            inner.Clear();
            _normalizedMatcher.Split(piece, inner);
            foreach (var (s, l, i) in inner)
            {
                if (i >= 0) output.Add(i);
                else EncodeSegment(s == 0 && l == piece.Length ? piece : piece.Substring(s, l), state, output);
            }
        }
    }

    private string NormalizeText(string text)
    {
        foreach (UnicodeNormalizer n in Normalizers) text = n.Normalize(text);
        return text;
    }

    /// <summary>Pre-tokenizes one segment (no added tokens inside) and encodes each piece.</summary>
    private void EncodeSegment(string segment, EncoderState state, List<int> output)
    {
        if (segment.Length == 0) return;
        if (PreTokenizer.AddPrefixSpace && segment[0] != ' ') segment = " " + segment;
        ReadOnlySpan<char> span = segment;
        if (!PreTokenizer.UseRegex)
        {
            EncodePiece(span, state, output);
            return;
        }
        for (int i = 0; i < span.Length;)
        {
            int len = ByteLevelSplitter.NextPieceLength(span, i);
            EncodePiece(span.Slice(i, len), state, output);
            i += len;
        }
    }

    private void EncodePiece(ReadOnlySpan<char> piece, EncoderState state, List<int> output)
    {
        if (state.TryGetCached(piece, out int[] cached))
        {
            output.AddRange(cached);
            return;
        }
        state.EnsureCapacity(piece.Length);
        int byteCount = Encoding.UTF8.GetBytes(piece, state.Bytes);
        List<int> word = state.Word;
        word.Clear();
        Model.EncodeWord(state.Bytes.AsSpan(0, byteCount), state.Symbols, state.Merger, word);
        int[] ids = word.ToArray();
        state.AddCached(piece, ids);
        output.AddRange(ids);
    }

    private sealed class BatchWork(Tokenizer tokenizer, IReadOnlyList<string> texts, int[][] result) : IParallelWork
    {
        public void Execute(int index) => result[index] = tokenizer.Encode(texts[index]);
    }
}
