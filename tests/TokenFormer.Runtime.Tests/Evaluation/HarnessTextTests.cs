using TokenFormer.Runtime.Evaluation;

namespace TokenFormer.Runtime.Tests.Evaluation;

/// <summary>The Python string operations of the harness's task definitions, with Python's results (worked out by hand).</summary>
public class HarnessTextTests
{
    [Theory]
    [InlineData("then HE walks", "Then he walks")]
    [InlineData("", "")]
    [InlineData("A", "A")]
    [InlineData("éCOLE", "École")]
    public void Capitalize_IsPythons(string input, string expected) => Assert.Equal(expected, HarnessText.Capitalize(input));

    [Theory]
    [InlineData("  Make tea [title] Boil water. [step] Pour it.  ", "Make tea. Boil water. Pour it.")]
    [InlineData("a [x] b [y] c", "a b c")]
    [InlineData("one    two", "one  two")]
    public void PreprocessHellaSwag_IsTheHarnesss(string input, string expected) => Assert.Equal(expected, HarnessText.PreprocessHellaSwag(input));

    [Theory]
    [InlineData("a b  c", 3)]
    [InlineData(" a b\n", 4)]
    [InlineData("", 1)]
    public void WordCount_IsLenOfReSplit(string input, int expected) => Assert.Equal(expected, HarnessText.WordCount(input));

    [Fact]
    public void DetokenizeWikiText_IsTheHarnesss() =>
        Assert.Equal(" == Title ==\nHe said \"hello\" (see [1]), it's 3.5 1 km; the players' {x}.\n",
            HarnessText.DetokenizeWikiText(" = = Title = = \n He said \" hello \" ( see [ 1 ] ) , it 's 3 @.@ 5 N km ; the players ' { x } . \n"));

    [Fact]
    public void PythonLength_CountsCodePoints() => Assert.Equal(3, HarnessText.PythonLength("a😀b"));
}
