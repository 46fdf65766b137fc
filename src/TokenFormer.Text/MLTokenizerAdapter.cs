using System.Buffers;
using System.Text;
using Microsoft.ML.Tokenizers;
using MLTokenizer = Microsoft.ML.Tokenizers.Tokenizer;

namespace TokenFormer.Text;

/// <summary>
/// Our <see cref="Tokenizer"/> behind Microsoft.ML.Tokenizers' <see cref="MLTokenizer"/> abstraction, so code written
/// against that abstraction (EncodeToIds, EncodeToTokens, CountTokens, GetIndexByTokenCount, Decode) runs on a
/// tokenizer.json read by this library. Ids, text and decoding are exactly ours.
/// </summary>
/// <remarks>
/// Our tokenizer always applies its normalizers and its pre-tokenizer (the <c>considerNormalization</c> and
/// <c>considerPreTokenization</c> settings are accepted and have no effect). Offsets: each token covers the UTF-8 bytes it
/// decodes to, mapped to UTF-16 positions of the text (of the normalized text, returned as <c>NormalizedText</c>, when the
/// tokenizer has normalizers); a character split between tokens belongs to the token where it starts (the next token's
/// range then starts after it and may be empty). <see cref="EncodeSettings.MaxTokenCount"/> keeps the first tokens only and
/// <c>CharsConsumed</c> is where the last one kept ends; it may cut a word into its first tokens.
/// Thread-safe like the wrapped tokenizer.
/// </remarks>
public sealed class MLTokenizerAdapter : MLTokenizer
{
    /// <summary>Wraps <paramref name="tokenizer"/>.</summary>
    public MLTokenizerAdapter(Tokenizer tokenizer)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        Inner = tokenizer;
    }

    /// <summary>The wrapped tokenizer.</summary>
    public Tokenizer Inner { get; }

    /// <summary>Loads a Hugging Face tokenizer.json (see <see cref="Tokenizer.Load"/>) and wraps it.</summary>
    public static MLTokenizerAdapter Load(string path) => new(Tokenizer.Load(path));

    /// <inheritdoc/>
    protected override EncodeResults<EncodedToken> EncodeToTokens(string? text, ReadOnlySpan<char> textSpan, EncodeSettings settings)
    {
        string source = text ?? textSpan.ToString();
        string? normalized = Normalize(source);
        string basis = normalized ?? source;
        int[] ids = Inner.Encode(source);
        int count = Math.Min(ids.Length, Math.Max(0, settings.MaxTokenCount));
        var tokens = new List<EncodedToken>(count);
        var bytes = new List<byte>(16);
        long byteEnd = 0;        // UTF-8 bytes of the text covered by the tokens so far
        int charPos = 0;         // UTF-16 position of the first character not yet covered
        long charPosByte = 0;    // UTF-8 offset where that character starts
        for (int i = 0; i < count; i++)
        {
            bytes.Clear();
            string token = Inner.IdToToken(ids[i]) ?? "";
            BpeModel.AppendByteLevelBytes(token, bytes);
            byteEnd += bytes.Count;
            int start = charPos;
            // Take every character that starts before this token's last byte: a character split between tokens goes
            // to the token where it starts.
            while (charPos < basis.Length && charPosByte < byteEnd)
            {
                int width = char.IsHighSurrogate(basis[charPos]) && charPos + 1 < basis.Length ? 2 : 1;
                charPosByte += Encoding.UTF8.GetByteCount(basis.AsSpan(charPos, width));
                charPos += width;
            }
            tokens.Add(new EncodedToken(ids[i], token, new Range(start, charPos)));
        }
        int charEnd = charPos;
        return new EncodeResults<EncodedToken>
        {
            Tokens = tokens,
            NormalizedText = normalized,
            CharsConsumed = count == ids.Length ? basis.Length : charEnd,
        };
    }

    /// <inheritdoc/>
    protected override EncodeResults<int> EncodeToIds(string? text, ReadOnlySpan<char> textSpan, EncodeSettings settings)
    {
        if (settings.MaxTokenCount < int.MaxValue)
        {
            EncodeResults<EncodedToken> r = EncodeToTokens(text, textSpan, settings);
            return new EncodeResults<int> { Tokens = r.Tokens.Select(t => t.Id).ToArray(), NormalizedText = r.NormalizedText, CharsConsumed = r.CharsConsumed };
        }
        string source = text ?? textSpan.ToString();
        string? normalized = Normalize(source);
        return new EncodeResults<int> { Tokens = Inner.Encode(source), NormalizedText = normalized, CharsConsumed = (normalized ?? source).Length };
    }

    /// <inheritdoc/>
    protected override int CountTokens(string? text, ReadOnlySpan<char> textSpan, EncodeSettings settings) =>
        settings.MaxTokenCount < int.MaxValue
            ? EncodeToIds(text, textSpan, settings).Tokens.Count
            : Inner.Encode(text ?? textSpan.ToString()).Length;

    /// <inheritdoc/>
    public override string Decode(IEnumerable<int> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        return Inner.Decode(ids as int[] ?? ids.ToArray());
    }

    /// <inheritdoc/>
    public override OperationStatus Decode(IEnumerable<int> ids, Span<char> destination, out int idsConsumed, out int charsWritten)
    {
        ArgumentNullException.ThrowIfNull(ids);
        int[] all = ids as int[] ?? ids.ToArray();
        // The longest prefix of ids whose text fits (decoding is not split per id: a character may span ids).
        for (int n = all.Length; n >= 0; n--)
        {
            string text = Inner.Decode(all.AsSpan(0, n));
            if (text.Length <= destination.Length)
            {
                text.AsSpan().CopyTo(destination);
                idsConsumed = n;
                charsWritten = text.Length;
                return n == all.Length ? OperationStatus.Done : OperationStatus.DestinationTooSmall;
            }
        }
        idsConsumed = 0;
        charsWritten = 0;
        return OperationStatus.DestinationTooSmall;
    }

    private string? Normalize(string text)
    {
        if (Inner.Normalizers.Count == 0) return null;
        foreach (UnicodeNormalizer n in Inner.Normalizers) text = n.Normalize(text);
        return text;
    }
}
