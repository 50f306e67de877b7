"""The adaptive curriculum (phase 5) as a library: the kernel in ``runtime.phases.curriculum``
tells the story, these modules do the parts.

- ``controller``: :class:`LevelController` (rolling accuracy in ``threshold ± tolerance``)
  and :func:`edge_level` (the assessment's start level);
- ``questions``: :class:`QuestionStream` (training questions by level, tool episodes) and
  the held-out sets (assessment, other families);
- ``replay``: :class:`ReplayBuffer` (reservoir) and :func:`plan_steps` (dream rounds);
- ``scoring``: exact teacher-forced answers (the rolling accuracy's measurement);
- ``adaptive``: :class:`AdaptiveCurriculum` (batches by step) and
  :class:`CurriculumObjective` (the loss, plus the model's answers to the controller);
- ``tools``: tool-call validity, correctness, accuracy with and without tools.

See docs/curriculum.md.
"""
