using TokenFormer.Cli.Serve;

namespace TokenFormer.Cli.Tests.Serve;

/// <summary>Which requests may share a batch.</summary>
public sealed class CompletionSettingsTests
{
    [Fact]
    public void Greedy_requests_share_whatever_their_seed()
    {
        var a = new CompletionSettings { Temperature = 0, MaxTokens = 8, Seed = 1 };
        Assert.True(a.CanShareBatchWith(a with { Seed = 2 }));
        Assert.True(a.CanShareBatchWith(a with { Seed = null }));
        Assert.False(a.CanShareBatchWith(a with { MaxTokens = 9 }));
        Assert.False(a.CanShareBatchWith(a with { Stop = ["x"] }));
        Assert.True((a with { Stop = ["x", "y"] }).CanShareBatchWith(a with { Stop = ["x", "y"] }));
    }

    [Fact]
    public void Sampled_requests_share_only_with_the_same_explicit_seed()
    {
        var a = new CompletionSettings { Temperature = 0.7f, TopP = 0.9f, Seed = 5 };
        Assert.True(a.CanShareBatchWith(a with { }));
        Assert.False(a.CanShareBatchWith(a with { Seed = 6 }));
        Assert.False(a.CanShareBatchWith(a with { TopK = 40 }));
        Assert.False(a.CanShareBatchWith(a with { RepetitionPenalty = 1.2f }));
        var unseeded = a with { Seed = null };
        Assert.False(unseeded.CanShareBatchWith(unseeded with { }));
        Assert.False(unseeded.CanShareBatchWith(a));
    }
}
