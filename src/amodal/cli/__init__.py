"""The `amodal` command line: its parser and one handler per subcommand. May import every other
package.
"""
