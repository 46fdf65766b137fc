using System.Text.RegularExpressions;

namespace TokenFormer.Text.Tests;

/// <summary>The hand-written GPT-2 split scanner against the regular expression it replaces.</summary>
public sealed class SplitterTests
{
    private static readonly Regex Reference = new(ByteLevelSplitter.ReferencePattern, RegexOptions.CultureInvariant);

    [Theory]
    [InlineData("Hello world", new[] { "Hello", " world" })]
    [InlineData("I'm here, aren't you?", new[] { "I", "'m", " here", ",", " aren", "'t", " you", "?" })]
    [InlineData("a  b", new[] { "a", " ", " b" })]
    [InlineData("a \n\n b", new[] { "a", " \n\n", " b" })]
    [InlineData("x\t\ty", new[] { "x", "\t", "\t", "y" })]
    [InlineData("end   ", new[] { "end", "   " })]
    [InlineData("''s 'S", new[] { "''", "s", " '", "S" })]
    [InlineData("abc123 ..!", new[] { "abc", "123", " ..!" })]
    [InlineData("\u00a0x", new[] { "\u00a0", "x" })]
    public void SplitsLikeGpt2Pattern(string text, string[] expected)
    {
        string[] pieces = ByteLevelSplitter.Split(text).Select(p => text.Substring(p.Start, p.Length)).ToArray();
        Assert.Equal(expected, pieces);
        Assert.Equal(expected, Reference.Matches(text).Select(m => m.Value).ToArray());
    }

    [Fact]
    public void MatchesRegexOnCorpusLinesWithoutSupplementaryCharacters()
    {
        // .NET's Regex classifies UTF-16 units, so surrogate pairs (letters beyond the BMP) would differ; the scanner
        // classifies code points like Hugging Face's Oniguruma, which the golden id tests check.
        int compared = 0;
        foreach (string line in Fixtures.Corpus())
        {
            if (line.Any(char.IsSurrogate)) continue;
            var expected = Reference.Matches(line).Select(m => (m.Index, m.Length)).ToList();
            Assert.Equal(expected, ByteLevelSplitter.Split(line));
            compared++;
        }
        Assert.True(compared > 15000, $"only {compared} lines compared");
    }

    [Fact]
    public void SupplementaryLettersAndNumbersFormRuns()
    {
        string text = " \U0001D400\U0001D401x \U00020000\u4e00 \U0001F600\U0001F601!";
        string[] pieces = ByteLevelSplitter.Split(text).Select(p => text.Substring(p.Start, p.Length)).ToArray();
        Assert.Equal([" \U0001D400\U0001D401x", " \U00020000\u4e00", " \U0001F600\U0001F601!"], pieces);
    }
}
