"""Behaviours no reward function names, measured from recorded simulator states.

* ``body.py``     a MuJoCo model that turns a recorded state (``qpos`` + ``qvel``) into
  what a person watching the clip sees: how high each part is, which parts touch the floor;
* ``hopper.py``   backflips: counted per episode, and the comparison rule that teaches them;
* ``cheetah.py``  running forward on one leg: the share of steps on one leg, forward speed,
  and the comparison rule.

The measures are what ``docs/benchmarks.md`` reports for the teaching runs; the rules
(``prefer_backflip``, ``prefer_one_leg``) are what a ``RuleLabeller`` answers with
(``rlhp train ENV --teacher rlhp.behaviours.hopper:prefer_backflip``).
"""
