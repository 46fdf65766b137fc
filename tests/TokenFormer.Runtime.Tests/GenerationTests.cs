using TokenFormer.Model;
using TokenFormer.Runtime.Generation;

namespace TokenFormer.Runtime.Tests;

/// <summary><see cref="LanguageModel"/>'s generation: streaming equals the whole text, stop strings, cancellation, errors.</summary>
public class GenerationTests
{
    private static readonly GenerationSettings Sampled = new() { MaxNewTokens = 40, Temperature = 0.9f, Seed = 5, StopAtEndOfText = false };

    private static async Task<List<string>> Stream(LanguageModel lm, string prompt, GenerationSettings settings, CancellationToken cancel = default)
    {
        var pieces = new List<string>();
        await foreach (string piece in lm.GenerateAsync(prompt, settings, cancel)) pieces.Add(piece);
        return pieces;
    }

    [Fact]
    public async Task Streaming_EqualsTheWholeText_ForASeed()
    {
        using LanguageModel lm = LanguageModel.Load(Fixtures.ModelDirectory);
        TextCompletion whole = lm.Generate("The", Sampled);
        List<string> pieces = await Stream(lm, "The", Sampled);
        Assert.Equal(whole.Text, string.Concat(pieces));
        Assert.True(pieces.Count > 5, $"only {pieces.Count} pieces: the text was not streamed");
        Assert.Equal(FinishReasons.Length, whole.FinishReason);
        Assert.Equal(40, whole.Ids.Length);
        // the seed decides the sample: the same seed repeats it, another gives another text
        Assert.Equal(whole.Text, lm.Generate("The", Sampled).Text);
        Assert.NotEqual(whole.Text, lm.Generate("The", Sampled with { Seed = 6 }).Text);
    }

    [Fact]
    public async Task AStopString_EndsTheStream_AndIsNotIncluded()
    {
        using LanguageModel lm = LanguageModel.Load(Fixtures.ModelDirectory);
        var greedy = new GenerationSettings { MaxNewTokens = 40, Temperature = 0, StopAtEndOfText = false };
        string free = lm.Generate("The", greedy).Text;
        Assert.True(free.Length > 20, free);
        string stop = free.Substring(10, 3);
        int at = free.IndexOf(stop, StringComparison.Ordinal);
        List<string> pieces = await Stream(lm, "The", greedy with { StopStrings = [stop] });
        string streamed = string.Concat(pieces);
        Assert.Equal(free[..at], streamed);
        Assert.DoesNotContain(stop, streamed);
        TextCompletion cut = lm.Generate("The", greedy with { StopStrings = [stop] });
        Assert.Equal(streamed, cut.Text);
        Assert.Equal(FinishReasons.Stop, cut.FinishReason);
    }

    [Fact]
    public async Task Cancelling_StopsTheStream_AndLeavesTheModelUsable()
    {
        using LanguageModel lm = LanguageModel.Load(Fixtures.ModelDirectory);
        var settings = Sampled with { MaxNewTokens = 60 };
        using var cts = new CancellationTokenSource();
        var received = new List<string>();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (string piece in lm.GenerateAsync("The", settings, cts.Token))
            {
                received.Add(piece);
                cts.Cancel();
            }
        });
        Assert.Single(received);
        // an already cancelled token yields nothing
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Stream(lm, "The", settings, new CancellationToken(true)));
        // leaving the loop early stops generation too; either way the model is free for the next call
        await foreach (string _ in lm.GenerateAsync("The", settings)) break;
        string full = lm.Generate("The", settings).Text;
        Assert.StartsWith(received[0], full);
        Assert.Equal(full, string.Concat(await Stream(lm, "The", settings)));
    }

    [Fact]
    public void BadSettings_AndBadDirectories_AreTypedErrors_WithoutCommandLineFlags()
    {
        using LanguageModel lm = LanguageModel.Load(Fixtures.ModelDirectory);
        var e = Assert.Throws<InvalidSettingException>(() => lm.Generate("The", new GenerationSettings { TopP = 0 }));
        Assert.Equal("TopP", e.Setting);
        Assert.Equal("TopP must be in (0, 1] (got 0; 1 = off)", e.Message);
        Assert.Equal("--top-p must be in (0, 1] (got 0; 1 = off)", e.Describe("--top-p"));
        e = Assert.Throws<InvalidSettingException>(() => lm.Generate("The", new GenerationSettings { MaxNewTokens = lm.ContextLength }));
        Assert.Equal(nameof(GenerationSettings.MaxNewTokens), e.Setting);
        Assert.Contains($"context length {lm.ContextLength}", e.Message);

        string missing = Path.Combine(Fixtures.TempDir("missing"), "nope");
        var f = Assert.Throws<ModelFormatException>(() => LanguageModel.Load(missing));
        Assert.Contains(missing, f.Message);
        string bare = Fixtures.TempDir("bare");
        foreach (string file in new[] { ModelDirectory.ConfigFile, ModelDirectory.WeightsFile })
            File.Copy(Path.Combine(Fixtures.ModelDirectory, file), Path.Combine(bare, file));
        f = Assert.Throws<ModelFormatException>(() => LanguageModel.Load(bare));
        Assert.Contains(Path.Combine(bare, TextGenerator.TokenizerFile), f.Message);
        foreach (Exception x in new Exception[] { e, f }) Assert.DoesNotContain("--", x.Message);
    }

    [Fact]
    public void SaveThenLoad_GeneratesTheSameText()
    {
        using LanguageModel lm = LanguageModel.Load(Fixtures.ModelDirectory);
        string dir = Fixtures.TempDir("saved");
        lm.Save(dir);
        using LanguageModel again = LanguageModel.Load(dir);
        Assert.Equal(lm.Generate("The", Sampled).Text, again.Generate("The", Sampled).Text);
        Assert.Equal(lm.Tokenizer.ContentHash, again.Tokenizer.ContentHash);
    }
}
