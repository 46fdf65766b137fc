using System.CommandLine;

namespace TokenFormer.Cli.Commands;

/// <summary><c>tokenformer grow</c> (being built; see its issue).</summary>
public static class GrowCommand
{
    public static Command Create()
    {
        var cmd = new Command("grow", "Grow a trained model by appending parameter tokens.");
        cmd.SetAction(new Func<ParseResult, int>(_ => throw new CliException("'grow' is not available yet")));
        return cmd;
    }
}
