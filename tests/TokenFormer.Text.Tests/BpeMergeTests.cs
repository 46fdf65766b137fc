namespace TokenFormer.Text.Tests;

/// <summary>The heap-based word merger against a plain reference: repeatedly merge the lowest-rank adjacent pair, leftmost first.</summary>
public sealed class BpeMergeTests
{
    [Fact]
    public void MergerEqualsPlainReferenceOnCorpusWords()
    {
        Tokenizer gpt2 = Fixtures.LoadGzipTokenizer("gpt2-tokenizer.json.gz");
        var merger = new BpeWordMerger();
        int words = 0;
        foreach (string line in Fixtures.Corpus().Take(4000))
        {
            foreach (var (start, length) in ByteLevelSplitter.Split(line))
            {
                byte[] utf8 = System.Text.Encoding.UTF8.GetBytes(line.Substring(start, length));
                int[] initial = utf8.Select(b => gpt2.Model.TokenToId(ByteLevelAlphabet.ByteToChar(b).ToString())!.Value).ToArray();
                int[] fast = (int[])initial.Clone();
                int n = merger.MergeAll(fast, gpt2.Model.Merges);
                Assert.Equal(Reference(initial, gpt2.Model.Merges), fast[..n]);
                words++;
            }
        }
        Assert.True(words > 50000, $"{words} words");
    }

    [Fact]
    public void LongWordsMergeLikeReference()
    {
        Tokenizer gpt2 = Fixtures.LoadGzipTokenizer("gpt2-tokenizer.json.gz");
        var merger = new BpeWordMerger();
        var random = new Random(7);
        string alphabet = "aabbeeinorst ";
        for (int trial = 0; trial < 30; trial++)
        {
            int len = random.Next(100, 700);
            var word = new int[len];
            for (int i = 0; i < len; i++) word[i] = gpt2.Model.TokenToId(alphabet[random.Next(alphabet.Length)] == ' ' ? "Ġ" : alphabet[random.Next(alphabet.Length - 1)].ToString())!.Value;
            int[] fast = (int[])word.Clone();
            int n = merger.MergeAll(fast, gpt2.Model.Merges);
            Assert.Equal(Reference(word, gpt2.Model.Merges), fast[..n]);
        }
    }

    private static int[] Reference(int[] initial, BpeMerges merges)
    {
        var symbols = initial.ToList();
        while (true)
        {
            int best = -1, bestRank = int.MaxValue, bestId = 0;
            for (int i = 0; i + 1 < symbols.Count; i++)
                if (merges.TryGet(symbols[i], symbols[i + 1], out int rank, out int merged) && rank < bestRank)
                    (best, bestRank, bestId) = (i, rank, merged);
            if (best < 0) return symbols.ToArray();
            symbols[best] = bestId;
            symbols.RemoveAt(best + 1);
        }
    }
}
