# bash completion for sodactl, soda-blackbox and soda-ids.
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The tools answer for themselves: `TOOL __complete WORD...` prints the
# candidates for the last word (commands, options, the names of servers,
# networks and images), or ":files" / ":dirs" for a path.

_soda_complete()
{
	local cur words cword line
	cur=${COMP_WORDS[COMP_CWORD]}
	words=("${COMP_WORDS[@]:1:COMP_CWORD}")
	COMPREPLY=()
	local out
	out=$("${COMP_WORDS[0]}" __complete "${words[@]}" 2>/dev/null) || return 0
	case "$out" in
	:files)
		compopt -o filenames 2>/dev/null
		mapfile -t COMPREPLY < <(compgen -f -- "$cur")
		return 0;;
	:dirs)
		compopt -o filenames 2>/dev/null
		mapfile -t COMPREPLY < <(compgen -d -- "$cur")
		return 0;;
	esac
	mapfile -t COMPREPLY < <(compgen -W "$out" -- "$cur")
}

complete -F _soda_complete sodactl soda-blackbox soda-ids
