using TokenFormer.Model.Inference;
using TokenFormer.Runtime.Generation;
using TokenFormer.Text;

namespace TokenFormer.Runtime.Tests;

/// <summary>The streaming detokeniser and the batch text generator under <see cref="LanguageModel"/> (and the CLI and server).</summary>
public class TextStreamTests
{
    private static readonly Lazy<Tokenizer> Tokenizer = new(() => TextGenerator.LoadTokenizer(Fixtures.ModelDirectory));

    [Fact]
    public void TextStream_ReleasesOnlyCompleteCharacters_AndCutsAtStopStrings()
    {
        Tokenizer tok = Tokenizer.Value;
        const string text = "café ünïcode 😀 and ✓ end";
        int[] ids = tok.Encode(text);
        Assert.Equal(text, tok.Decode(ids));
        Assert.Contains(ids, id => tok.Decode([id]).Contains('\uFFFD'));   // some token splits a character
        var stream = new TextStream(tok, null);
        var pieces = ids.Select(stream.Append).ToList();
        pieces.Add(stream.Flush());
        Assert.DoesNotContain(pieces, p => p.Contains('\uFFFD'));
        Assert.Equal(text, string.Concat(pieces));

        var stopped = new TextStream(tok, ["😀 a", "zzz"]);
        var released = new List<string>();
        foreach (int id in ids)
        {
            released.Add(stopped.Append(id));
            if (stopped.Stopped) break;
        }
        released.Add(stopped.Flush());
        Assert.True(stopped.Stopped);
        Assert.Equal("café ünïcode ", stopped.Text);
        Assert.Equal("café ünïcode ", string.Concat(released));
    }

    [Fact]
    public void TextGenerator_StopStringsEndTheCompletion_WithFinishReasonStop()
    {
        var tg = TextGenerator.Load(Fixtures.ModelDirectory, maxBatch: 2);
        var options = new SamplingOptions { MaxNewTokens = 20, Temperature = 0 };
        TextCompletion free = tg.Complete(["Fellow"], options)[0];
        Assert.Equal(FinishReasons.Length, free.FinishReason);
        Assert.Equal(tg.Tokenizer.Encode("Fellow").Length, free.PromptTokens);
        Assert.True(free.Text.Length > 4, free.Text);
        string stop = free.Text.Substring(2, 2);
        var streamed = new List<string>();
        TextCompletion cut = tg.Complete(["Fellow", "Fellow"], options, [stop], (i, s) => { if (i == 0) streamed.Add(s); })[0];
        Assert.Equal(FinishReasons.Stop, cut.FinishReason);
        Assert.Equal(free.Text[..free.Text.IndexOf(stop, StringComparison.Ordinal)], cut.Text);
        Assert.Equal(cut.Text, string.Concat(streamed));
        // an empty prompt is the end-of-text token
        Assert.Equal(1, tg.Complete([""], options with { MaxNewTokens = 1 })[0].PromptTokens);
        Assert.Throws<Model.ModelFormatException>(() => TextGenerator.Load(Path.Combine(Fixtures.ModelDirectory, "missing")));
        Assert.Throws<Model.InvalidSettingException>(() => TextGenerator.Load(Fixtures.ModelDirectory, maxBatch: 0));
    }
}
