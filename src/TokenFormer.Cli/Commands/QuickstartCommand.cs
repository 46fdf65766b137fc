using System.CommandLine;

namespace TokenFormer.Cli.Commands;

/// <summary><c>tokenformer quickstart</c> (being built; see its issue).</summary>
public static class QuickstartCommand
{
    public static Command Create()
    {
        var cmd = new Command("quickstart", "Train, grow and sample a small model on an embedded default corpus.");
        cmd.SetAction(new Func<ParseResult, int>(_ => throw new CliException("'quickstart' is not available yet")));
        return cmd;
    }
}
