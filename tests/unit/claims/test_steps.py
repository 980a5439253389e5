"""The claim protocol (``core.steps``) against an apiserver in miniature: objects with resourceVersions,
conditional writes, and writers that decide on what they read and write later, interleaved at random.

After every write no claimant may be the consumer of two claimables, and a claimable's consumer only
goes from none to one claimant and back. The same checker, fed the protocol the first cut used
(reserve only when not reserved, no fence), finds the double claim the cluster test met — so it
can fail, and the rules in ``core.steps`` are what make it pass.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from zen_lead.claims.core.model import Claimable, Claimant, Consumer, claim_state, release_reason
from zen_lead.claims.core.plan import Bind
from zen_lead.claims.core.steps import Commit, Fence, Reserve, Step, claim_steps

Steps = Callable[[Bind], tuple[Step, ...]]


@dataclass
class Obj:
    rv: int
    pointer: str | None = None  # a claimant's reservation, or a claimable's consumer (a claimant name)


@dataclass
class World:
    """Claimants m0.. and claimables h0..; every successful write takes the next revision."""

    claimants: dict[str, Obj]
    claimables: dict[str, Obj]
    revision: int = 0

    def bump(self, obj: Obj) -> None:
        self.revision += 1
        obj.rv = self.revision

    def view(self) -> tuple[list[Claimant], list[Claimable]]:
        claimants = [Claimant("ns", n, n, 0.0, host=o.pointer) for n, o in self.claimants.items()]
        claimables = [
            Claimable("ns", n, consumer=None if o.pointer is None else Consumer(o.pointer, o.pointer))
            for n, o in self.claimables.items()
        ]
        return claimants, claimables

    def check(self) -> None:
        per = Counter(o.pointer for o in self.claimables.values() if o.pointer is not None)
        doubled = [c for c, n in per.items() if n > 1]
        assert not doubled, f"revision {self.revision}: {doubled} consume two claimables: {self.claimables}"


@dataclass
class Writer:
    """One replica: decides on a snapshot, then sends its writes one turn at a time."""

    steps: list[Step] = field(default_factory=list)
    claimant: str = ""
    decided: dict[str, int] = field(default_factory=dict)  # object name -> version decided on
    restamp_changes: bool = True  # rule 1: a restamp changes the claimant (its attempt nonce)
    bind_on_decided: bool = True  # rule 2: the bind is conditional on the version decided on

    def turn(self, world: World, pick: int, steps_for: Steps) -> None:
        if not self.steps:
            self._decide(world, pick, steps_for)
            return
        step = self.steps.pop(0)
        if not self._write(world, step):
            self.steps.clear()  # a 409: the attempt is over, the next turn decides again
        world.check()

    def _decide(self, world: World, pick: int, steps_for: Steps) -> None:
        claimants, claimables = world.view()
        state = claim_state(claimants, claimables)
        if not state.pending or not state.free:
            return
        claimant = state.pending[pick % len(state.pending)]
        target = state.free[(pick // 7) % len(state.free)]  # any free claimable: safety must not depend on it
        bind = Bind(claimant, target, reserved=claimant.host == target.name)
        self.claimant = claimant.name
        self.decided = {n: o.rv for n, o in world.claimables.items()}
        self.decided[claimant.name] = world.claimants[claimant.name].rv
        self.steps = list(steps_for(bind))

    def _write(self, world: World, step: Step) -> bool:
        if isinstance(step, Reserve):
            obj = world.claimants[self.claimant]
            if obj.rv != self.decided[self.claimant]:
                return False
            if obj.pointer != step.claimable or self.restamp_changes:
                obj.pointer = step.claimable
                world.bump(obj)
            return True
        obj = world.claimables[step.claimable]
        if isinstance(step, Commit) and not self.bind_on_decided and obj.pointer is None:
            self.decided[step.claimable] = obj.rv  # read again just before the write
        if obj.rv != self.decided[step.claimable]:
            return False
        if isinstance(step, Commit):
            obj.pointer = self.claimant
        world.bump(obj)  # a Fence changes only the version (an annotation)
        return True


@dataclass
class Releaser:
    """Releases a suspect claim: decides on a snapshot, reads the claimant live, then writes."""

    suspect: str | None = None
    decided: int = 0

    def turn(self, world: World, pick: int) -> None:
        if self.suspect is None:
            state = claim_state(*world.view())
            if state.suspect:
                chosen = state.suspect[pick % len(state.suspect)]
                self.suspect, self.decided = chosen.name, world.claimables[chosen.name].rv
            return
        name, self.suspect = self.suspect, None
        obj = world.claimables[name]
        claimants, claimables = world.view()  # the live read of the claimant, then the write
        live = {c.name: c for c in claimants}.get(obj.pointer or "")
        claimable = next(c for c in claimables if c.name == name)
        if obj.rv == self.decided and release_reason(claimable, live) is not None:
            obj.pointer = None
            world.bump(obj)
        world.check()


def run(
    schedule: Sequence[tuple[int, int]],
    steps_for: Steps = claim_steps,
    *,
    machines: int,
    hosts: int,
    restamp_changes: bool = True,
    bind_on_decided: bool = True,
) -> World:
    world = World(
        claimants={f"m{i}": Obj(0) for i in range(machines)},
        claimables={f"h{j}": Obj(0) for j in range(hosts)},
    )
    writers = [Writer(restamp_changes=restamp_changes, bind_on_decided=bind_on_decided) for _ in range(3)]
    releaser = Releaser()
    for who, pick in schedule:
        if who < len(writers):
            writers[who].turn(world, pick, steps_for)
        else:
            releaser.turn(world, pick)
    return world


SCHEDULES = st.lists(st.tuples(st.integers(0, 3), st.integers(0, 1000)), max_size=80)


@settings(max_examples=600, deadline=None)
@given(SCHEDULES, st.integers(1, 4), st.integers(1, 4))
def test_no_interleaving_makes_a_claimant_the_consumer_of_two_claimables(
    schedule: list[tuple[int, int]], machines: int, hosts: int
) -> None:
    world = run(schedule, claim_steps, machines=machines, hosts=hosts)
    world.check()


def no_fence(bind: Bind) -> tuple[Step, ...]:
    return tuple(step for step in claim_steps(bind) if not isinstance(step, Fence))


def first_cut(bind: Bind) -> tuple[Step, ...]:
    """The first cut's writes: reserve only when not reserved already, never fence."""
    reserve: tuple[Step, ...] = () if bind.reserved else (Reserve(bind.claimable.name),)
    return (*reserve, Commit(bind.claimable.name))


def double_claims(schedule: list[tuple[int, int]], **how: object) -> bool:
    try:
        run(schedule, machines=1, hosts=2, **how)  # type: ignore[arg-type]
    except AssertionError as error:
        if "consume two claimables" not in str(error):
            raise
        return True
    return False


# (writer, pick) turns; a writer's first turn decides: pick 0 chooses h0, pick 7 chooses h1
MOVE_WHILE_A_BIND_IS_IN_FLIGHT = [(0, 0), (0, 0), (2, 7), (2, 7), (2, 7), (0, 0)]
RESTAMP_BETWEEN_FENCE_AND_MOVE = [(0, 0), (0, 0), (1, 7), (1, 7), (2, 0), (2, 0), (1, 7), (1, 7), (2, 0)]
BIND_READ_AFTER_THE_FENCE = [(0, 0), (0, 0), (1, 7), (1, 7), (1, 7), (1, 7), (0, 0)]


def test_each_rule_is_needed_and_the_checker_sees_the_double_claim_without_it() -> None:
    # writer 0 reserves h0 for m0; writer 2 moves m0 to h1 and binds it; writer 0's bind of h0,
    # decided on h0's free version, still lands — unless the move fenced h0 first
    assert double_claims(MOVE_WHILE_A_BIND_IS_IN_FLIGHT, steps_for=first_cut)
    assert double_claims(MOVE_WHILE_A_BIND_IS_IN_FLIGHT, steps_for=no_fence)
    assert not double_claims(MOVE_WHILE_A_BIND_IS_IN_FLIGHT)
    # writer 1 fences h0 to move m0; writer 2 decides to finish m0's reservation of h0 on the fenced
    # version and restamps it; writer 1's move still lands unless the restamp changed m0
    assert double_claims(RESTAMP_BETWEEN_FENCE_AND_MOVE, restamp_changes=False)
    assert not double_claims(RESTAMP_BETWEEN_FENCE_AND_MOVE)
    # writer 0 reads h0 again just before binding, after writer 1 fenced it and moved m0
    assert double_claims(BIND_READ_AFTER_THE_FENCE, bind_on_decided=False)
    assert not double_claims(BIND_READ_AFTER_THE_FENCE)


def test_a_fence_is_sent_only_when_a_reservation_moves() -> None:
    c = Claimant("ns", "m", "u", 0.0, host="h1")
    h1, h2 = Claimable("ns", "h1"), Claimable("ns", "h2")
    assert claim_steps(Bind(c, h2, reserved=False)) == (Fence("h1"), Reserve("h2"), Commit("h2"))
    assert claim_steps(Bind(c, h1, reserved=True)) == (Reserve("h1"), Commit("h1"))
    fresh = Claimant("ns", "m", "u", 0.0)
    assert claim_steps(Bind(fresh, h1, reserved=False)) == (Reserve("h1"), Commit("h1"))
