//! WSO2's default API lifecycle (`APILifeCycle`): the actions the Publisher offers in each
//! state and where they lead. CREATED → PUBLISHED → DEPRECATED → RETIRED, with
//! PROTOTYPED beside CREATED and BLOCKED beside PUBLISHED; a retired API has no way back.

use keygate_model::ApiStatus;
use serde::Serialize;

/// A lifecycle action, as the Publisher's `change-lifecycle?action=` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LifecycleAction {
    /// `Publish`.
    Publish,
    /// `Deploy as a Prototype`.
    DeployAsPrototype,
    /// `Demote to Created`.
    DemoteToCreated,
    /// `Block`.
    Block,
    /// `Re-Publish`.
    RePublish,
    /// `Deprecate`.
    Deprecate,
    /// `Retire`.
    Retire,
}

impl LifecycleAction {
    /// Every action.
    pub const ALL: [LifecycleAction; 7] = [
        Self::Publish,
        Self::DeployAsPrototype,
        Self::DemoteToCreated,
        Self::Block,
        Self::RePublish,
        Self::Deprecate,
        Self::Retire,
    ];

    /// WSO2's name of the action.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Publish => "Publish",
            Self::DeployAsPrototype => "Deploy as a Prototype",
            Self::DemoteToCreated => "Demote to Created",
            Self::Block => "Block",
            Self::RePublish => "Re-Publish",
            Self::Deprecate => "Deprecate",
            Self::Retire => "Retire",
        }
    }

    /// The action named `name` (case-insensitive, as WSO2 accepts it).
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|a| a.as_str().eq_ignore_ascii_case(name.trim()))
    }

    /// The state the action leads to from `from`, or `None` when `from` does not offer it.
    pub fn target(self, from: ApiStatus) -> Option<ApiStatus> {
        use ApiStatus as S;
        match (from, self) {
            (S::Created | S::Prototyped, Self::Publish) => Some(S::Published),
            (S::Created | S::Published, Self::DeployAsPrototype) => Some(S::Prototyped),
            (S::Prototyped | S::Published, Self::DemoteToCreated) => Some(S::Created),
            (S::Published, Self::Block) => Some(S::Blocked),
            (S::Blocked, Self::RePublish) => Some(S::Published),
            (S::Published | S::Blocked, Self::Deprecate) => Some(S::Deprecated),
            (S::Deprecated, Self::Retire) => Some(S::Retired),
            _ => None,
        }
    }
}

/// One transition offered from a state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Transition {
    /// The action.
    pub event: &'static str,
    /// Where it leads.
    pub target_state: ApiStatus,
}

/// The transitions offered from `state`, in [`LifecycleAction::ALL`] order.
pub fn available_transitions(state: ApiStatus) -> Vec<Transition> {
    LifecycleAction::ALL
        .into_iter()
        .filter_map(|a| {
            a.target(state).map(|target_state| Transition {
                event: a.as_str(),
                target_state,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ApiStatus as S;

    #[test]
    fn the_main_path_and_its_side_states() {
        let walk = [
            (S::Created, LifecycleAction::Publish, S::Published),
            (S::Published, LifecycleAction::Block, S::Blocked),
            (S::Blocked, LifecycleAction::RePublish, S::Published),
            (S::Published, LifecycleAction::Deprecate, S::Deprecated),
            (S::Deprecated, LifecycleAction::Retire, S::Retired),
        ];
        for (from, action, to) in walk {
            assert_eq!(action.target(from), Some(to), "{from} {}", action.as_str());
        }
    }

    #[test]
    fn refused_transitions() {
        assert_eq!(LifecycleAction::Retire.target(S::Published), None);
        assert_eq!(LifecycleAction::Deprecate.target(S::Created), None);
        assert_eq!(LifecycleAction::RePublish.target(S::Published), None);
        assert_eq!(LifecycleAction::Block.target(S::Created), None);
        assert!(available_transitions(S::Retired).is_empty());
    }

    #[test]
    fn names_parse_case_insensitively() {
        assert_eq!(
            LifecycleAction::parse("re-publish"),
            Some(LifecycleAction::RePublish)
        );
        assert_eq!(
            LifecycleAction::parse("Deploy as a Prototype"),
            Some(LifecycleAction::DeployAsPrototype)
        );
        assert_eq!(LifecycleAction::parse("Delete"), None);
        let from_published: Vec<_> = available_transitions(S::Published)
            .iter()
            .map(|t| t.event)
            .collect();
        assert_eq!(
            from_published,
            [
                "Deploy as a Prototype",
                "Demote to Created",
                "Block",
                "Deprecate"
            ]
        );
    }
}
